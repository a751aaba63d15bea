"""Modelport against peer model servers (MLServer, Infinity): see README.md."""
