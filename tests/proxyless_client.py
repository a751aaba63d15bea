"""A proxyless grpcio client (run as a child process: grpcio reads its xDS bootstrap once
per process, from GRPC_XDS_BOOTSTRAP_CONFIG). Calls `xds:///modelport` with and without
`x-modelport-model`, typed (unary and client-streaming) and Open Inference Protocol, and
prints what each answered as JSON."""

from __future__ import annotations

import json
import sys

import grpc

from modelport.oip.v2 import open_inference_pb2 as oip
from modelport.oip.v2 import open_inference_pb2_grpc as oip_grpc
from modelport.serving.calls import MODEL_HEADER
from modelport.v1 import common_pb2, embedding_pb2, embedding_pb2_grpc


def main() -> None:
    model = sys.argv[1]
    route = ((MODEL_HEADER, model),)
    request = embedding_pb2.EmbedRequest(model=common_pb2.ModelRef(name=model), inputs=["route me"])
    with grpc.insecure_channel("xds:///modelport") as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        typed = embedding_pb2_grpc.EmbeddingServiceStub(channel)
        header = typed.Embed(request, metadata=route, timeout=30)
        body = typed.Embed(request, timeout=30)
        streamed = list(typed.EmbedStream(iter([request, request]), metadata=route, timeout=30))
        text = oip.ModelInferRequest.InferInputTensor(
            name="text",
            datatype="BYTES",
            shape=[1],
            contents=oip.InferTensorContents(bytes_contents=[b"route me"]),
        )
        infer = oip_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            oip.ModelInferRequest(model_name=model, inputs=[text]), metadata=route, timeout=30
        )
    print(
        json.dumps(
            {
                "header": list(header.embeddings[0].values),
                "body": list(body.embeddings[0].values),
                "streamed": [list(s.embeddings[0].values) for s in streamed],
                "infer_outputs": [o.name for o in infer.outputs],
            }
        )
    )


if __name__ == "__main__":
    main()
