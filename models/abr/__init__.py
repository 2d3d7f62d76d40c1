"""Learned and classic adaptive-bitrate (ABR) policies over a trace-driven simulator.

Three layers, as in Pensieve-PPO: the simulator core (:mod:`streamlab.models.abr.traces`,
:mod:`streamlab.models.abr.video`, :mod:`streamlab.models.abr.simulator`), the session wrapper that plays one video
over one trace and scores it (:mod:`streamlab.models.abr.env`), and the policies behind one interface
(:mod:`streamlab.models.abr.policies`), looked up by name in :mod:`streamlab.models.abr.registry`.

The learned decision exists once, :func:`streamlab.models.abr.decide.decide`, with its typed
request/response (the ``abr/decide`` wire contract); the simulator's policy, the server, the
headless player and the registered pyfunc (:mod:`streamlab.models.abr.pyfunc`) all call it. The
registered model is declared once in :mod:`streamlab.models.abr.family`.

Live mode (low-latency streams of parts published in real time, a latency-aware QoE, the hls.js,
L2A-LL and LoL+ baselines and a learned live policy) is the :mod:`streamlab.models.abr.live` subpackage,
on the same link model, title, forecaster and wire types.
"""
