"""What runs behind ``make serve-model``: MLflow's scoring app for a model, bounded."""
