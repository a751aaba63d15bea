"""The torch-free serving platform every Modelport process shares: gRPC server,
interceptors, auth, tracing, metrics, errors, wire helpers. Never imports torch."""
