"""The eager PyTorch engine: the model as transformers or torchvision builds it."""

from __future__ import annotations

import torch

from modelport.ml.engines.base import Engine, EngineChoice, Forward, Graph, Inputs


class TorchEngine(Engine):
    """Runs the graph's torch module on its device (the reference every engine meets)."""

    kind = "torch"

    def __init__(self, module: Forward, device: torch.device) -> None:
        super().__init__()
        self.module = module
        self.device = device

    @classmethod
    def load(cls, graph: Graph, choice: EngineChoice) -> TorchEngine:
        return cls(graph.module, choice.device)

    def forward(self, inputs: Inputs) -> torch.Tensor:
        args = [inputs[name].to(self.device) for name in self.module.input_names]
        with torch.inference_mode():
            output: torch.Tensor = self.module(*args)
        return output

    def details(self) -> dict[str, str]:
        return {"engine_device": str(self.device), "engine_threads": str(torch.get_num_threads())}
