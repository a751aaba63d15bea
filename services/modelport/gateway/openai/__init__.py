"""OpenAI-compatible `/v1`: models, embeddings, completions, chat completions."""
