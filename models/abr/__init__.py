"""Learned and classic adaptive-bitrate (ABR) policies over a trace-driven simulator.

Three layers, as in Pensieve-PPO: the simulator core (:mod:`streamlab.models.abr.traces`,
:mod:`streamlab.models.abr.video`, :mod:`streamlab.models.abr.simulator`), the session wrapper that plays one video
over one trace and scores it (:mod:`streamlab.models.abr.env`), and the policies behind one interface
(:mod:`streamlab.models.abr.policies`), looked up by name in :mod:`streamlab.models.abr.registry`.
"""
