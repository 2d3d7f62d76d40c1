"""Training, calibration, validation, registration and evaluation of the QoE detectors.

The simulated world they learn from lives here too: the viewer population
(:mod:`~streamlab.training.qoe.population`), incidents with ground truth
(:mod:`~streamlab.training.qoe.incidents`), the cached ABR outcome library
(:mod:`~streamlab.training.qoe.library`) and the telemetry simulator (:mod:`~streamlab.training.qoe.simulate`).
"""
