"""Modelport: serve AI models as gRPC services on Kubernetes."""

__version__ = "0.1.0"
