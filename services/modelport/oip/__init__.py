"""Open Inference Protocol v2: generated stubs under `v2/`, and what the servers share."""

EXTENSIONS = ["model_repository", "statistics", "parameters"]
"""Protocol extensions Modelport's backends and router implement."""
