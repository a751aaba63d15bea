"""The embedding service: sentence embeddings over gRPC."""
