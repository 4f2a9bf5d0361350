"""A stage network in Triton: the runner PyTriton hosts, and the Python-backend model that
`unclip-mesh triton export` writes as `1/model.py`.

Self-contained on purpose: an exported model repository carries this file next to the network's
folder (`1/network/`) and imports nothing of this project, only numpy, torch and diffusers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch


class NetworkRunner:
    """A diffusers network loaded from its folder, called with a dict of numpy rows (batch first)."""

    def __init__(
        self, folder: str | Path, network_class: str, output_attribute: str, device: str = "cpu"
    ) -> None:
        import diffusers

        loader = getattr(diffusers, network_class)
        self.network = loader.from_pretrained(folder, torch_dtype=torch.float32).to(device).eval()
        self.output_attribute = output_attribute
        self.device = torch.device(device)

    @torch.inference_mode()
    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        tensors = {
            name: torch.from_numpy(np.ascontiguousarray(array)).to(self.device)
            for name, array in inputs.items()
        }
        tensors["timestep"] = tensors["timestep"].reshape(-1)  # one per row, sent as [N, 1]
        return getattr(self.network(**tensors), self.output_attribute).float().cpu().numpy()


class TritonPythonModel:
    """Triton's Python-backend contract: one response per request, an error kept to its request.

    Triton's dynamic batcher hands several requests at once; they run as ONE forward when their
    shapes agree, else (or when that forward fails) one by one.
    """

    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        parameters = {key: value["string_value"] for key, value in config["parameters"].items()}
        device = "cuda:" + args["model_instance_device_id"] if args["model_instance_kind"] == "GPU" else "cpu"
        self.inputs = [tensor["name"] for tensor in config["input"]]
        self.output = config["output"][0]["name"]
        self.run = NetworkRunner(
            Path(__file__).parent / "network",
            parameters["network_class"],
            parameters["output_attribute"],
            device,
        )

    def execute(self, requests: list) -> list:
        import triton_python_backend_utils as pb_utils

        arrays = [
            {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.inputs}
            for request in requests
        ]
        outputs: Sequence[np.ndarray | str]
        try:
            outputs = self._together(arrays)
        except Exception:  # find the requests that fail alone
            outputs = [self._alone(one) for one in arrays]
        return [
            pb_utils.InferenceResponse(error=pb_utils.TritonError(output))
            if isinstance(output, str)
            else pb_utils.InferenceResponse([pb_utils.Tensor(self.output, output)])
            for output in outputs
        ]

    def _together(self, arrays: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        rows = np.cumsum([len(one[self.inputs[0]]) for one in arrays])[:-1]
        merged = {name: np.concatenate([one[name] for one in arrays]) for name in self.inputs}
        return np.split(self.run(merged), rows)

    def _alone(self, inputs: dict[str, np.ndarray]) -> np.ndarray | str:
        try:
            return self.run(inputs)
        except Exception as error:  # the error goes back to its request
            return f"{type(error).__name__}: {error}"
