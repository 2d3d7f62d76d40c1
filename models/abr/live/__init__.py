"""Low-latency live mode: the simulator's live edge (:mod:`.simulator`), the live QoE (:mod:`.qoe`),
the baselines re-implemented from their sources (:mod:`.hlsjs`, :mod:`.l2a`, :mod:`.lolp`, with their
catch-up rules in :mod:`.catchup`), the learned live policy (:mod:`.learned`, planning with
:mod:`.planner`) and its one decision (:mod:`.decide`, what ``/abr/decide`` answers for ``mode: live``).
"""
