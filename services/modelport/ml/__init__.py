"""Torch-side helpers shared by the inference services: devices, text encoding, pooling."""
