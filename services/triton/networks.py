"""The stage networks Triton can host: their tensors, as both sides of the KServe v2 call name them.

Imported on both sides (the stage service and the Triton venv), so it needs nothing beyond the
standard library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TensorSpec:
    name: str  # the network's keyword argument, and the Triton tensor's name
    datatype: str  # KServe v2 datatype: FP32, INT64, BOOL
    dims: tuple[int, ...]  # without the batch dimension; -1 = any size


@dataclass(frozen=True)
class NetworkSpec:
    """One network forward: rows of `inputs` (batch first) -> rows of `output`.

    `timestep` is sent as one value per row (dims (1,)) and flattened before the call, so rows of
    different requests (at different steps) share a forward.
    """

    stage: str
    role: str  # the bundle folder holding its config.json and weights
    network_class: str  # the diffusers class that loads that folder
    output_attribute: str  # the field of the forward's output that holds the prediction
    inputs: tuple[TensorSpec, ...]
    output: TensorSpec


NETWORKS = {
    "decoder": NetworkSpec(
        stage="decoder",
        role="decoder",
        network_class="UNet2DConditionModel",
        output_attribute="sample",
        inputs=(
            TensorSpec("sample", "FP32", (-1, -1, -1)),
            TensorSpec("timestep", "INT64", (1,)),
            TensorSpec("encoder_hidden_states", "FP32", (-1, -1)),
            TensorSpec("class_labels", "FP32", (-1,)),
            TensorSpec("attention_mask", "BOOL", (-1,)),
        ),
        output=TensorSpec("output", "FP32", (-1, -1, -1)),
    ),
}


def network_spec(stage: str) -> NetworkSpec:
    try:
        return NETWORKS[stage]
    except KeyError:
        raise ValueError(
            f"the {stage} stage cannot be hosted by Triton yet "
            f"(stages that can: {', '.join(sorted(NETWORKS))})"
        ) from None
