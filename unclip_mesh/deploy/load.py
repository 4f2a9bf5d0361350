"""A stage's load for `deploy status`: the sum of its per-pod gauges (`unclip_inflight_requests` by
default), read from each ready pod's Prometheus endpoint.

Two ways to reach an endpoint: `proxy` (the API server's pod proxy, from outside the cluster) and
`direct` (pod IP, from a pod in a namespace the NetworkPolicy admits). Both are a function
pod -> exposition text, so tests pass a fake.
"""

import logging
import urllib.request
from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from unclip_mesh.deploy.stages import METRICS_PORT, stage_pod_selector

logger = logging.getLogger(__name__)
MetricsFetch = Callable[[Any], str]  # V1Pod -> Prometheus text
ReadLoads = Callable[[str, str], list[float]]  # (stage, metric) -> per-pod loads
FETCH_TIMEOUT_SECONDS = 2.0


def via_proxy(core) -> MetricsFetch:
    def fetch(pod) -> str:
        return core.connect_get_namespaced_pod_proxy_with_path(
            f"{pod.metadata.name}:{METRICS_PORT}",
            pod.metadata.namespace,
            "metrics",
            _request_timeout=FETCH_TIMEOUT_SECONDS,
        )

    return fetch


def direct() -> MetricsFetch:
    def fetch(pod) -> str:
        url = f"http://{pod.status.pod_ip}:{METRICS_PORT}/metrics"
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:
            return response.read().decode()

    return fetch


def metric_value(text: str, metric: str) -> float | None:
    """The sum of `metric`'s samples in an exposition, None when it has none."""
    values = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == metric
    ]
    return sum(values) if values else None


def is_ready(pod) -> bool:
    conditions = (pod.status.conditions if pod.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


class LoadReader:
    """Per-pod loads of a stage: one value per ready pod that answered with the metric."""

    def __init__(self, core, namespace: str, fetch: MetricsFetch):
        self.core = core
        self.namespace = namespace
        self.fetch = fetch

    def __call__(self, stage: str, metric: str) -> list[float]:
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=stage_pod_selector(stage)).items
        loads = []
        for pod in filter(is_ready, pods):
            try:
                value = metric_value(self.fetch(pod), metric)
            except Exception as error:  # one silent pod must not stop the others
                logger.warning("%s: cannot read metrics of %s: %s", stage, pod.metadata.name, error)
                continue
            if value is None:
                logger.warning("%s: %s has no %s", stage, pod.metadata.name, metric)
            else:
                loads.append(value)
        return loads
