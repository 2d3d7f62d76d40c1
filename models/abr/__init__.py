"""Learned and classic adaptive-bitrate (ABR) policies over a trace-driven simulator.

Three layers, as in Pensieve-PPO: the simulator core (:mod:`models.abr.traces`,
:mod:`models.abr.video`, :mod:`models.abr.simulator`), the session wrapper that plays one video
over one trace and scores it (:mod:`models.abr.env`), and the policies behind one interface
(:mod:`models.abr.policies`), looked up by name in :mod:`models.abr.registry`.
"""
