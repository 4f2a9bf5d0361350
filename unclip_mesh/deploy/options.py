"""What a render is asked for: an overlay's profile plus the caller's choices."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from unclip_mesh.deploy.images import split_reference, stage_image
from unclip_mesh.deploy.profiles import PROFILES, Profile

SCALERS = ("hpa", "keda")
DEFAULT_LOAD_METRIC = "unclip_inflight_requests"
# The Service the Prometheus Operator puts in front of the Prometheus of namespace `monitoring`.
DEFAULT_PROMETHEUS_URL = "http://prometheus-operated.monitoring.svc:9090"


@dataclass(frozen=True)
class RenderOptions:
    overlay: str = "cpu-demo"
    namespace: str | None = None  # None: the overlay's namespace
    image: str | None = None  # [REGISTRY/]NAME[:VERSION] of the role images; None: the overlay's
    node_pools: Mapping[str, str] = field(default_factory=dict)  # stage -> pool, over the overlay's
    pool_label: str = "unclip-mesh/node-pool"  # the node label that names a node's pool
    storage_class: str | None = None  # None: the cluster's default class
    scaler: str = "hpa"  # hpa (custom metrics through an adapter, + CPU) or keda (ScaledObjects)
    load_metric: str = DEFAULT_LOAD_METRIC
    prometheus_url: str = DEFAULT_PROMETHEUS_URL  # where KEDA queries the load
    monitoring: bool = False  # PodMonitors and a PrometheusRule (Prometheus Operator kinds)
    cluster_domain: str = "cluster.local"

    def __post_init__(self) -> None:
        if self.overlay not in PROFILES:
            raise ValueError(f"unknown overlay {self.overlay!r}: one of {', '.join(PROFILES)}")
        if self.scaler not in SCALERS:
            raise ValueError(f"unknown scaler {self.scaler!r}: one of {', '.join(SCALERS)}")
        if self.image is not None:
            split_reference(self.image)
        unknown = set(self.node_pools) - set(self.profile.stages)
        if unknown:
            raise ValueError(f"node pool for unknown stage(s): {', '.join(sorted(unknown))}")

    @property
    def profile(self) -> Profile:
        return PROFILES[self.overlay]

    @property
    def target_namespace(self) -> str:
        return self.namespace or self.profile.namespace

    def stage_image(self, stage: str) -> str:
        """Its role's image (unclip_mesh/deploy/images.py); a version-less --image keeps the overlay's."""
        _, version = split_reference(self.profile.image)
        return stage_image(self.image or self.profile.image, version or "latest", stage, self.profile.device)

    def node_pool(self, stage: str) -> str | None:
        return self.node_pools.get(stage, self.profile.stages[stage].node_pool)
