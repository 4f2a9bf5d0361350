"""The PromQL of the mesh, written once: KEDA's triggers, the HPA's adapter rule, the alerts and
docs/OPERATIONS.md all take their expressions from here.

Every expression is scoped to one stage of one namespace (the `stage` label comes from the
process's own metrics, `namespace` and `pod` from the scrape), so several meshes can share one
Prometheus.
"""

from dataclasses import dataclass

INFLIGHT = "unclip_inflight_requests"
REFUSAL_CODES = ("RESOURCE_EXHAUSTED", "UNAVAILABLE")  # overload, draining
WINDOW = "5m"


@dataclass(frozen=True)
class Scope:
    stage: str
    namespace: str

    @property
    def matchers(self) -> str:
        return f'stage="{self.stage}", namespace="{self.namespace}"'


def load(metric: str, scope: Scope) -> str:
    """The stage's total load; KEDA divides it by the replicas (AverageValue) as the HPA does."""
    return f"sum({metric}{{{scope.matchers}}})"


def replicas_reporting(scope: Scope) -> str:
    """Replicas whose metrics Prometheus scraped at the last scrape."""
    return f"count({INFLIGHT}{{{scope.matchers}}})"


def load_per_replica(metric: str, scope: Scope) -> str:
    return f"{load(metric, scope)} / {replicas_reporting(scope)}"


def refusal_ratio(scope: Scope) -> str:
    """The share of the stage's calls refused for overload or while draining."""
    codes = "|".join(REFUSAL_CODES)
    calls = f"unclip_rpc_requests_total{{{scope.matchers}"
    return f'sum(rate({calls}, code=~"{codes}"}}[{WINDOW}])) / sum(rate({calls}}}[{WINDOW}]))'


def latency_p99(scope: Scope) -> str:
    """Seconds from admission to the last message, 99th percentile over every method."""
    return (
        f"histogram_quantile(0.99, sum by (le) "
        f"(rate(unclip_rpc_duration_seconds_bucket{{{scope.matchers}}}[{WINDOW}])))"
    )


def no_replica_scraped(scope: Scope) -> str:
    """1 while no replica of the stage is scraped: every process exports its gauges from start-up
    on, and a failed scrape marks its series stale at once."""
    return f"absent({INFLIGHT}{{{scope.matchers}}})"


def adapter_rule(metric: str) -> dict:
    """prometheus-adapter's rule serving `metric` per pod to the HPA's Pods metric."""
    return {
        "seriesQuery": f'{metric}{{namespace!="",pod!=""}}',
        "resources": {"overrides": {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}},
        "name": {"matches": f"^{metric}$", "as": metric},
        "metricsQuery": "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)",
    }


def adapter_query(metric: str, namespace: str, pods: list[str]) -> str:
    """The query prometheus-adapter sends for the HPA of a stage whose pods are `pods`."""
    matchers = f'namespace="{namespace}",pod=~"{"|".join(pods)}"'
    return (
        adapter_rule(metric)["metricsQuery"]
        .replace("<<.Series>>", metric)
        .replace("<<.LabelMatchers>>", matchers)
        .replace("<<.GroupBy>>", "pod")
    )
