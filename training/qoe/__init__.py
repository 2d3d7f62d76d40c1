"""Training, calibration, registration and evaluation of the QoE detectors."""
