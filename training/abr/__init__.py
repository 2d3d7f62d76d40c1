"""Training the learned ABR policy: splits, Ray rollouts, the throughput model, planner tuning, MLflow."""
