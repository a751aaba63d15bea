"""The HTTP gateway: OpenAI-compatible `/v1`, Open Inference Protocol REST `/v2` and
typed REST for `modelport.v1`, each turned into gRPC calls on the router.

It never imports torch or the inference runtime (an import-linter contract says so): it
holds no model, only a `grpc.aio` channel to the router, which does authentication,
roles, rate limits, routing and auditing of every call the gateway forwards.
"""
