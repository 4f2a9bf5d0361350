"""One image per role (deploy/Dockerfile's targets), each with only the extras its processes import.

A profile's image, or `--image`, is a reference `[REGISTRY/]NAME[:VERSION]` that names the family:
each stage runs `NAME-ROLE:VERSION`, model stages with the profile's device after the version
(`unclip-mesh:0.1.0` -> `unclip-mesh-model:0.1.0-cuda`, `unclip-mesh-orchestrator:0.1.0`,
`unclip-mesh-gateway:0.1.0`): only the model image differs between CPU and CUDA.
"""

from services import stage_registry
from services.stage_registry import GATEWAY, MODEL, ORCHESTRATOR

# role -> the pyproject extras its image installs; the Dockerfile's target of each role is its name
ROLE_EXTRAS = {
    MODEL: ("models", "triton"),  # a diffusion stage can forward its network to Triton
    ORCHESTRATOR: ("orchestrator",),
    GATEWAY: ("gateway",),
}


def split_reference(reference: str) -> tuple[str, str | None]:
    """`registry:5000/team/unclip-mesh:0.1.0` -> (`registry:5000/team/unclip-mesh`, `0.1.0`)."""
    if "@" in reference:
        raise ValueError(
            f"image {reference!r}: a digest names one image, not one per role; give [REGISTRY/]NAME[:VERSION]"
        )
    head, slash, last = reference.rpartition("/")
    name, _, version = last.partition(":")
    if not name:
        raise ValueError(f"image {reference!r}: expected [REGISTRY/]NAME[:VERSION]")
    return head + slash + name, version or None


def stage_image(reference: str, default_version: str, stage: str, device: str) -> str:
    """The image a stage runs, from the family reference (its version, else `default_version`)."""
    repository, version = split_reference(reference)
    role = stage_registry.get(stage).role
    tag = version or default_version
    return f"{repository}-{role}:{tag}-{device}" if role == MODEL else f"{repository}-{role}:{tag}"
