"""Per-overlay sizing and placement: the data every overlay differs in, and nothing else.

`base` is what deploy/base holds; each overlay is the base with its own profile. Node pools are
names, matched against the node label given by RenderOptions.pool_label.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from unclip_mesh.deploy.stages import all_stages


@dataclass(frozen=True)
class StageProfile:
    cpu: tuple[str, str]  # request, limit
    memory: tuple[str, str]  # request, limit
    gpus: int = 0
    node_pool: str | None = None
    min_replicas: int = 1
    max_replicas: int = 2
    target_load: int = 4  # in-flight requests per pod the autoscalers aim at
    grace_seconds: int = 30  # drain: longer than the slowest request of the stage
    max_batch_size: int = 4
    max_queue: int = 32
    torch_threads: int = 0
    # p99 call seconds above which the stage alerts: placeholders on histogram bucket bounds, to
    # be set from a week of the site's own latencies (docs/OPERATIONS.md, Alerts)
    slow_p99_seconds: float = 50


@dataclass(frozen=True)
class Profile:
    name: str
    namespace: str
    image: str  # the role images' [REGISTRY/]NAME:VERSION (unclip_mesh/deploy/images.py)
    device: str  # cpu | cuda
    stages: Mapping[str, StageProfile]
    bundle_access_mode: str  # ReadOnlyMany where stages spread over nodes
    bundle_size: str
    startup_seconds: int  # how long a pod may take to load its model before it is restarted
    scratch_size: str = "1Gi"  # the writable /tmp of each pod


def _stages(**by_stage: StageProfile) -> Mapping[str, StageProfile]:
    return MappingProxyType({stage: by_stage[stage] for stage in all_stages()})


_CPU_STAGE = StageProfile(cpu=("500m", "2"), memory=("1Gi", "2Gi"), torch_threads=2)
_CPU_ORCHESTRATOR = StageProfile(
    cpu=("250m", "1"),
    memory=("256Mi", "512Mi"),
    target_load=16,
    grace_seconds=120,
    max_queue=64,
    slow_p99_seconds=250,
)

BASE = Profile(
    name="base",
    namespace="unclip",
    image="unclip-mesh:0.1.0",
    device="cpu",
    stages=_stages(
        text_encoder=replace(_CPU_STAGE, slow_p99_seconds=5),
        prior=_CPU_STAGE,
        decoder=_CPU_STAGE,
        upsampler_256=_CPU_STAGE,
        upsampler_1024=replace(_CPU_STAGE, memory=("2Gi", "3Gi"), slow_p99_seconds=100),
        orchestrator=_CPU_ORCHESTRATOR,
        gateway=replace(_CPU_ORCHESTRATOR, memory=("512Mi", "1Gi")),
    ),
    bundle_access_mode="ReadWriteOnce",
    bundle_size="2Gi",
    startup_seconds=300,
)

CPU_DEMO = replace(
    BASE,
    name="cpu-demo",
    namespace="unclip-demo",
    stages=MappingProxyType({stage: replace(p, max_replicas=3) for stage, p in BASE.stages.items()}),
)


def _gpu(pool: str, cpu: tuple[str, str], memory: tuple[str, str], **scaling: Any) -> StageProfile:
    return StageProfile(
        cpu=cpu, memory=memory, gpus=1, node_pool=pool, max_batch_size=8, max_queue=64, **scaling
    )


GPU = Profile(
    name="gpu",
    namespace="unclip",
    image="unclip-mesh:0.1.0",
    device="cuda",
    stages=_stages(
        text_encoder=_gpu(
            "gpu-small", ("1", "4"), ("6Gi", "8Gi"), max_replicas=4, target_load=16, slow_p99_seconds=0.5
        ),
        prior=_gpu(
            "gpu-medium", ("2", "4"), ("12Gi", "16Gi"), max_replicas=6, target_load=8, slow_p99_seconds=5
        ),
        decoder=_gpu(
            "gpu-large",
            ("4", "8"),
            ("24Gi", "32Gi"),
            min_replicas=2,
            max_replicas=12,
            target_load=8,
            grace_seconds=60,
            slow_p99_seconds=10,
        ),
        upsampler_256=_gpu(
            "gpu-medium",
            ("2", "4"),
            ("12Gi", "16Gi"),
            max_replicas=8,
            target_load=8,
            grace_seconds=60,
            slow_p99_seconds=10,
        ),
        upsampler_1024=_gpu(
            "gpu-large",
            ("4", "8"),
            ("24Gi", "32Gi"),
            min_replicas=2,
            max_replicas=12,
            target_load=4,
            grace_seconds=90,
            slow_p99_seconds=50,
        ),
        orchestrator=StageProfile(
            cpu=("500m", "2"),
            memory=("512Mi", "1Gi"),
            node_pool="cpu",
            min_replicas=2,
            max_replicas=6,
            target_load=32,
            grace_seconds=300,
            max_queue=256,
            slow_p99_seconds=100,
        ),
        # the gateway keeps `url` PNGs in memory (UNCLIP_URL_STORE_MB, 512 by default)
        gateway=StageProfile(
            cpu=("500m", "2"),
            memory=("1Gi", "2Gi"),
            node_pool="cpu",
            min_replicas=2,
            max_replicas=6,
            target_load=32,
            grace_seconds=300,
            max_queue=256,
            slow_p99_seconds=100,
        ),
    ),
    bundle_access_mode="ReadOnlyMany",
    bundle_size="50Gi",
    startup_seconds=600,
    scratch_size="4Gi",
)

PROFILES: Mapping[str, Profile] = MappingProxyType({p.name: p for p in (BASE, CPU_DEMO, GPU)})
OVERLAYS = ("cpu-demo", "gpu")
