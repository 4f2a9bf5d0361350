"""All manifests of one deployment, in apply order, and their YAML form."""

import yaml

from unclip_mesh.deploy.alerts import prometheus_rule
from unclip_mesh.deploy.config import config_map
from unclip_mesh.deploy.keda import scaled_object
from unclip_mesh.deploy.monitors import pod_monitor
from unclip_mesh.deploy.networking import network_policies, service
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.scaling import autoscaler, disruption_budget
from unclip_mesh.deploy.stages import all_stages
from unclip_mesh.deploy.storage import bundle_claim
from unclip_mesh.deploy.workloads import deployment


def namespace(options: RenderOptions) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": options.target_namespace}}


_SCALERS = {"hpa": autoscaler, "keda": scaled_object}


def render(options: RenderOptions) -> list[dict]:
    objects = [namespace(options), bundle_claim(options)]
    for stage in all_stages():
        objects += [
            config_map(stage, options),
            service(stage, options),
            deployment(stage, options),
            disruption_budget(stage, options),
        ]
        objects.append(_SCALERS[options.scaler](stage, options))
        if options.monitoring:
            objects.append(pod_monitor(stage, options))
    objects += network_policies(options)
    if options.monitoring:
        objects.append(prometheus_rule(options))
    return objects


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:
        return True  # a shared dict is written out in full, never as an anchor


def to_yaml(objects: list[dict]) -> str:
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
