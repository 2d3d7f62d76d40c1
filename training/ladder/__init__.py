"""Training the ladder predictor: corpus rows, grouped cross-validation, MLflow logging and registry."""
