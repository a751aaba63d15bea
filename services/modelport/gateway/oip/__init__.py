"""Open Inference Protocol REST (KServe v2) with Triton's extensions: JSON tensors, the
binary tensor data extension, generate, repository, statistics."""
