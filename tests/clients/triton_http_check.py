"""Triton's own HTTP client (`tritonclient[http]`) against the Modelport gateway.

Runs in a separate environment (tritonclient pins protobuf < 7), unchanged client code:

    .venv-clients/bin/python tests/clients/triton_http_check.py --url 127.0.0.1:8080 MODEL

Prints one JSON object with what each call returned; tests/integration/test_gateway.py
checks it. MODEL is a text-embedding model (BYTES `text` in, FP32 `embedding` out).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException


def text_input(items: list[bytes], binary: bool) -> Any:
    tensor = triton.InferInput("text", [len(items)], "BYTES")
    tensor.set_data_from_numpy(np.array(items, dtype=np.object_), binary_data=binary)
    return tensor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("model")
    args = parser.parse_args()
    client = triton.InferenceServerClient(args.url)
    model = args.model
    texts = [b"hello", b"world"]
    out: dict[str, Any] = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(model),
        "missing_ready": client.is_model_ready("no-such-model"),
        "server": client.get_server_metadata(),
        "metadata": client.get_model_metadata(model),
        "config_name": client.get_model_config(model).get("name"),
        "index": client.get_model_repository_index(),
    }
    results = {}
    for name, binary_in, binary_out in (
        ("binary", True, True),
        ("json", False, False),
        ("json_in_binary_out", False, True),
        ("default_outputs", True, None),
    ):
        outputs = (
            None
            if binary_out is None
            else [triton.InferRequestedOutput("embedding", binary_data=binary_out)]
        )
        result = client.infer(model, [text_input(texts, binary_in)], outputs=outputs)
        array = result.as_numpy("embedding")
        results[name] = {"shape": list(array.shape), "values": array.tolist()}
    out["results"] = results
    stats = client.get_inference_statistics(model)["model_stats"]
    out["inference_count"] = sum(int(s.get("inference_count", 0)) for s in stats)
    try:
        client.infer("no-such-model", [text_input([b"x"], True)])
        out["unknown_model"] = "no error"
    except InferenceServerException as exc:
        out["unknown_model"] = {"status": exc.status(), "message": exc.message()}
    try:
        wrong = triton.InferInput("wrong", [1], "BYTES")
        wrong.set_data_from_numpy(np.array([b"x"], dtype=np.object_))
        client.infer(model, [wrong])
        out["bad_input"] = "no error"
    except InferenceServerException as exc:
        out["bad_input"] = {"status": exc.status(), "message": exc.message()}
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
