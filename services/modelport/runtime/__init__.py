"""What every Modelport inference service shares: models, batching, serving, errors."""
