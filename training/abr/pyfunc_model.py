"""Models-from-code entry for MLflow: the registered pyfunc is defined by this file, not a pickle."""

import mlflow

from streamlab.training.abr.pyfunc import AbrPolicyModel

mlflow.models.set_model(AbrPolicyModel())
