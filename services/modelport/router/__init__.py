"""The router: one address for clients; registry of replicas; per-request routing.

It never imports torch (tests/unit/test_router_imports.py checks).
"""
