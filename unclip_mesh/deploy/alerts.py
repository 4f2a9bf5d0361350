"""The mesh's alert rules, four per stage, as a PrometheusRule and as a plain rules file (what
`promtool check rules` and a Prometheus of one's own read): the same groups in both."""

from dataclasses import dataclass

from unclip_mesh.deploy import queries
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.scaling import load_metric
from unclip_mesh.deploy.stages import APP, NAME_LABEL, all_stages

RULE_NAME = "unclip-mesh"
GROUP_NAME = "unclip-mesh"
REFUSAL_RATIO = 0.05  # of a stage's calls over 5 minutes


@dataclass(frozen=True)
class Alert:
    stage: str
    kind: str  # Backlog, Refusing, SlowP99, Down
    signal: str  # the PromQL whose value is compared
    comparison: str  # appended to the signal: the alert fires while the result is non-empty
    wait: str  # `for`: how long it must hold
    severity: str
    summary: str

    @property
    def name(self) -> str:
        """`UnclipUpsampler256Down`."""
        return "Unclip" + "".join(part.capitalize() for part in self.stage.split("_")) + self.kind

    @property
    def expr(self) -> str:
        return f"{self.signal} {self.comparison}".rstrip()


def stage_alerts(stage: str, options: RenderOptions) -> list[Alert]:
    profile = options.profile.stages[stage]
    scope = queries.Scope(stage, options.target_namespace)
    metric = load_metric(stage, options)
    return [
        Alert(
            stage,
            "Backlog",
            queries.load_per_replica(metric, scope),
            f"> {profile.target_load}",
            "10m",
            "warning",
            f"{stage}: {metric} per replica above the scaling target of {profile.target_load} "
            "for 10 minutes: the stage is at its maximum replicas or new pods do not start",
        ),
        Alert(
            stage,
            "Refusing",
            queries.refusal_ratio(scope),
            f"> {REFUSAL_RATIO}",
            "5m",
            "warning",
            f"{stage}: more than {REFUSAL_RATIO:.0%} of calls refused "
            "(RESOURCE_EXHAUSTED: overloaded, UNAVAILABLE: draining)",
        ),
        Alert(
            stage,
            "SlowP99",
            queries.latency_p99(scope),
            f"> {profile.slow_p99_seconds:g}",
            "10m",
            "warning",
            f"{stage}: p99 call time above {profile.slow_p99_seconds:g} s for 10 minutes",
        ),
        Alert(
            stage,
            "Down",
            queries.no_replica_scraped(scope),
            "",
            "2m",
            "critical",
            f"{stage}: no replica has answered a metrics scrape for 2 minutes",
        ),
    ]


def rule_groups(options: RenderOptions) -> dict:
    """The rules of every stage, in Prometheus's rule file format."""
    rules = [
        {
            "alert": alert.name,
            "expr": alert.expr,
            "for": alert.wait,
            "labels": {"severity": alert.severity, "stage": stage, "namespace": options.target_namespace},
            "annotations": {"summary": alert.summary},
        }
        for stage in all_stages()
        for alert in stage_alerts(stage, options)
    ]
    return {"groups": [{"name": GROUP_NAME, "rules": rules}]}


def prometheus_rule(options: RenderOptions) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": RULE_NAME, "namespace": options.target_namespace, "labels": {NAME_LABEL: APP}},
        "spec": rule_groups(options),
    }
