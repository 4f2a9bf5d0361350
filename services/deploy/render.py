"""All manifests of one deployment, in apply order, and their YAML form."""

import yaml

from services.deploy.alerts import prometheus_rule
from services.deploy.config import config_map
from services.deploy.keda import scaled_object
from services.deploy.monitors import pod_monitor
from services.deploy.networking import network_policies, service
from services.deploy.options import RenderOptions
from services.deploy.scaling import autoscaler, disruption_budget
from services.deploy.stages import ALL_STAGES
from services.deploy.storage import bundle_claim
from services.deploy.workloads import deployment


def namespace(options: RenderOptions) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": options.target_namespace}}


_SCALERS = {"hpa": autoscaler, "keda": scaled_object}


def render(options: RenderOptions) -> list[dict]:
    objects = [namespace(options), bundle_claim(options)]
    for stage in ALL_STAGES:
        objects += [config_map(stage, options), service(stage, options),
                    deployment(stage, options), disruption_budget(stage, options)]
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
