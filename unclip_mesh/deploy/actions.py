"""`deploy apply`, `status` and `scale` on the kubernetes client (clients are passed in)."""

from dataclasses import dataclass

from unclip_mesh.deploy.load import ReadLoads
from unclip_mesh.deploy.options import DEFAULT_LOAD_METRIC
from unclip_mesh.deploy.scaling import LOAD_METRIC
from unclip_mesh.deploy.stages import ALL_STAGES_SELECTOR, STAGE_LABEL, all_stages, object_name

FIELD_MANAGER = "unclip-mesh"


def apply(
    dynamic, objects: list[dict], field_manager: str = FIELD_MANAGER, dry_run: bool = False
) -> list[str]:
    """Server-side apply of each object in order, taking over fields other managers hold (the
    manifests are the source of truth). Returns `kind/name` of each object applied."""
    applied = []
    for obj in objects:
        resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        dynamic.server_side_apply(
            resource,
            body=obj,
            name=obj["metadata"]["name"],
            namespace=obj["metadata"].get("namespace"),
            field_manager=field_manager,
            force_conflicts=True,
            dry_run="All" if dry_run else None,
        )
        applied.append(f"{obj['kind']}/{obj['metadata']['name']}")
    return applied


@dataclass(frozen=True)
class StageStatus:
    stage: str
    desired: int
    ready: int
    loads: list[float]  # one per ready pod that reported


def status(apps, namespace: str, read_loads: ReadLoads) -> list[StageStatus]:
    """Per stage Deployment of the namespace, in stage order."""
    deployments = apps.list_namespaced_deployment(namespace, label_selector=ALL_STAGES_SELECTOR).items
    rows = []
    for deployment in deployments:
        stage = deployment.metadata.labels[STAGE_LABEL]
        metric = (deployment.metadata.annotations or {}).get(LOAD_METRIC, DEFAULT_LOAD_METRIC)
        rows.append(
            StageStatus(
                stage,
                deployment.spec.replicas or 0,
                deployment.status.ready_replicas or 0,
                read_loads(stage, metric),
            )
        )
    order = {stage: index for index, stage in enumerate(all_stages())}
    return sorted(rows, key=lambda row: order.get(row.stage, len(order)))


def format_status(rows: list[StageStatus]) -> str:
    lines = [f"{'STAGE':<16}{'DESIRED':>8}{'READY':>7}{'LOAD':>8}{'PER POD':>9}"]
    for row in rows:
        total = f"{sum(row.loads):g}" if row.loads else "-"
        per_pod = f"{sum(row.loads) / len(row.loads):.1f}" if row.loads else "-"
        lines.append(f"{row.stage:<16}{row.desired:>8}{row.ready:>7}{total:>8}{per_pod:>9}")
    return "\n".join(lines)


def scale(apps, namespace: str, stage: str, replicas: int) -> None:
    """Patches the stage's scale subresource (the HPA, or KEDA's, may change it again)."""
    if replicas < 0:
        raise ValueError(f"replicas must be >= 0, got {replicas}")
    apps.patch_namespaced_deployment_scale(object_name(stage), namespace, {"spec": {"replicas": replicas}})
