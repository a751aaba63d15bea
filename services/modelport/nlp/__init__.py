"""The NLP service: classification, token classification, text generation."""
