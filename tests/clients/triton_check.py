"""Triton's own Python client (`tritonclient[grpc]`) against a Modelport router.

Runs in a separate environment (tritonclient pins protobuf < 7), unchanged client code:

    .venv-clients/bin/python tests/clients/triton_check.py --url 127.0.0.1:50051 IMAGE

Prints one JSON object with what each call returned; tests/e2e/test_clients.py checks it.
"""

from __future__ import annotations

import argparse
import json
import queue
import time
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException


def bytes_input(name: str, items: list[bytes]) -> Any:
    tensor = triton.InferInput(name, [len(items)], "BYTES")
    tensor.set_data_from_numpy(np.array(items, dtype=np.object_))
    return tensor


def stats(client: Any, model: str) -> dict[str, int]:
    entry = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    return {
        "inference_count": int(entry.get("inference_count", 0)),
        "execution_count": int(entry.get("execution_count", 0)),
        "success": int(entry["inference_stats"].get("success", {}).get("count", 0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("image", type=Path)
    args = parser.parse_args()
    client = triton.InferenceServerClient(args.url)
    out: dict[str, Any] = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "server": client.get_server_metadata(as_json=True),
        "metadata": {
            name: client.get_model_metadata(name, as_json=True)
            for name in ("all-MiniLM-L6-v2", "sentiment", "efficientnet-lite0", "gemma-3-270m")
        },
    }
    out["config"] = {
        name: client.get_model_config(name, as_json=True)["config"]
        for name in ("all-MiniLM-L6-v2", "sentiment", "efficientnet-lite0", "gemma-3-270m")
    }
    before = stats(client, "all-MiniLM-L6-v2")
    result = client.infer("all-MiniLM-L6-v2", [bytes_input("text", [b"hello", b"world"])])
    out["embedding_shape"] = list(result.as_numpy("embedding").shape)
    out["embedding_norms"] = np.linalg.norm(result.as_numpy("embedding"), axis=1).tolist()
    out["stats_before"], out["stats_after"] = before, stats(client, "all-MiniLM-L6-v2")

    result = client.infer(
        "sentiment",
        [bytes_input("text", [b"I love this", b"I hate it"])],
        outputs=[triton.InferRequestedOutput("label")],
    )
    out["sentiment"] = [row[0].decode() for row in result.as_numpy("label")]
    out["sentiment_outputs"] = [o["name"] for o in result.get_response(as_json=True)["outputs"]]

    result = client.infer(
        "efficientnet-lite0",
        [bytes_input("image", [args.image.read_bytes()])],
        parameters={"top_k": 3},
    )
    out["image_labels"] = [label.decode() for label in result.as_numpy("label")[0]]

    chunks: queue.Queue[Any] = queue.Queue()
    client.start_stream(callback=lambda result, error: chunks.put((result, error)))
    client.async_stream_infer(
        "gemma-3-270m",
        [bytes_input("prompt", [b"Once upon a time"])],
        parameters={"max_new_tokens": 12},
    )
    texts, final = [], False
    while not final:
        result, error = chunks.get(timeout=120)
        if error is not None:
            raise error
        response = result.get_response(as_json=True)
        final = (
            response.get("parameters", {}).get("triton_final_response", {}).get("bool_param", False)
        )
        if not final:
            texts.append(result.as_numpy("text")[0].decode())
    client.stop_stream()
    out["stream_chunks"] = texts

    try:
        client.infer("no-such-model", [bytes_input("text", [b"x"])])
        out["unknown_model"] = "no error"
    except InferenceServerException as exc:
        out["unknown_model"] = exc.status()
    try:
        client.infer("sentiment", [bytes_input("wrong", [b"x"])])
        out["bad_input"] = "no error"
    except InferenceServerException as exc:
        out["bad_input"] = f"{exc.status()} {exc.message()}"

    out["index_before"] = client.get_model_repository_index(as_json=True).get("models", [])
    client.unload_model("sentiment")
    out["ready_after_unload"] = client.is_model_ready("sentiment")
    out["index_unloaded"] = client.get_model_repository_index(as_json=True).get("models", [])
    client.load_model("sentiment")
    deadline = time.monotonic() + 60
    while not client.is_model_ready("sentiment") and time.monotonic() < deadline:
        time.sleep(0.2)
    out["ready_after_load"] = client.is_model_ready("sentiment")
    result = client.infer("sentiment", [bytes_input("text", [b"What a wonderful day"])])
    out["sentiment_after_reload"] = result.as_numpy("label")[0][0].decode()
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
