"""What every inference service shares: the model base class, the repository, the
schedulers, registration with the router and the Open Inference Protocol servicer.
Torch-free: torch-side helpers live in `modelport.ml`."""
