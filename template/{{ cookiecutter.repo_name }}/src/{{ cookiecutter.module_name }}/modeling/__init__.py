"""Model training and prediction."""
