"""Open Inference Protocol v2: generated stubs under `v2/`, and what the servers share."""

EXTENSIONS = ["model_repository", "statistics", "parameters"]
"""Protocol extensions Modelport's backends and router implement."""

CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
"""The typed `InferTensorContents` field of each datatype (FP16 and BF16 travel only as
raw bytes). Shared by the backends' OIP servicer and the HTTP gateway."""
