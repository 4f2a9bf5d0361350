"""`unclip-mesh triton export STAGE OUT`: a Triton model repository for teams that run their own Triton.

    OUT/<model>/config.pbtxt        tensors, max_batch_size, dynamic batching, instance group
    OUT/<model>/1/model.py          the Python-backend model (services/triton/python_backend_model.py)
    OUT/<model>/1/network/          the network's folder from the bundle (config.json + weights)

The Python backend's environment needs numpy, torch and diffusers (docs/TRITON.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from services.bundle.loader import open_bundle
from services.triton import python_backend_model
from services.triton.networks import NetworkSpec, TensorSpec, network_spec


def _tensor(spec: TensorSpec) -> str:
    dims = ", ".join(str(d) for d in spec.dims)
    return f'  {{ name: "{spec.name}" data_type: TYPE_{spec.datatype} dims: [ {dims} ] }}'


def model_config(
    spec: NetworkSpec,
    model_name: str,
    max_batch_size: int,
    max_queue_delay_us: int,
    instances: int,
    kind: str,
) -> str:
    """config.pbtxt (protobuf text format) of the network's Python-backend model."""
    parameters = {"network_class": spec.network_class, "output_attribute": spec.output_attribute}
    inputs = ",\n".join(_tensor(t) for t in spec.inputs)
    return "\n".join(
        [
            f'name: "{model_name}"',
            'backend: "python"',
            f"max_batch_size: {max_batch_size}",
            f"input [\n{inputs}\n]",
            f"output [\n{_tensor(spec.output)}\n]",
            f"dynamic_batching {{ max_queue_delay_microseconds: {max_queue_delay_us} }}",
            f"instance_group [ {{ count: {instances} kind: KIND_{kind.upper()} }} ]",
            *(
                f'parameters {{ key: "{key}" value: {{ string_value: "{value}" }} }}'
                for key, value in parameters.items()
            ),
            "",
        ]
    )


def export_repository(
    stage: str,
    bundle: str | Path,
    out: str | Path,
    *,
    model_name: str | None = None,
    max_batch_size: int = 64,
    max_queue_delay_us: int = 2000,
    instances: int = 1,
    kind: str = "cpu",
) -> Path:
    """Writes the model of `stage`'s network into repository `out`; returns the model's folder."""
    spec = network_spec(stage)
    opened = open_bundle(bundle)
    opened.verify(stage)
    name = model_name or stage
    model_dir = Path(out) / name
    if model_dir.exists():
        raise FileExistsError(f"{model_dir} already exists")
    version = model_dir / "1"
    shutil.copytree(opened.stage_dir(stage, spec.role), version / "network")
    shutil.copyfile(python_backend_model.__file__, version / "model.py")
    (model_dir / "config.pbtxt").write_text(
        model_config(spec, name, max_batch_size, max_queue_delay_us, instances, kind)
    )
    return model_dir
