"""The optional stage autoscaler, for clusters without a custom-metrics adapter.

`decide` is the whole policy, a pure function; `StageAutoscaler` feeds it each stage's
Deployment (bounds from its annotations, replicas from its spec) and per-pod loads, and patches
the scale subresource when the answer differs. Its last-scale times live in memory: a restarted
controller may scale once without waiting for a cooldown.
"""

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from services.deploy.options import DEFAULT_LOAD_METRIC
from services.deploy.scaling import LOAD_METRIC, MAX_REPLICAS, MIN_REPLICAS, TARGET_LOAD
from services.deploy.stages import ALL_STAGES_SELECTOR, STAGE_LABEL

logger = logging.getLogger(__name__)
ReadLoads = Callable[[str, str], list[float]]  # (stage, metric) -> per-pod loads


@dataclass(frozen=True)
class Bounds:
    min_replicas: int
    max_replicas: int
    target_load: float  # load per pod the stage is sized for

    def __post_init__(self) -> None:
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError(f"need 1 <= min ({self.min_replicas}) <= max ({self.max_replicas})")
        if not self.target_load > 0:
            raise ValueError(f"target load must be > 0, got {self.target_load}")


@dataclass(frozen=True)
class Pace:
    up_cooldown_seconds: float = 30.0  # after any scale, before scaling up again
    down_cooldown_seconds: float = 300.0  # after any scale, before scaling down again
    max_step_down: int = 1  # pods removed per decision: a GPU pod is slow to bring back
    tolerance: float = 0.1  # no change while load per pod is within 10 % of the target


@dataclass(frozen=True)
class Decision:
    replicas: int
    reason: str


def decide(current: int, loads: list[float], bounds: Bounds, pace: Pace, now: float,
           last_scaled_at: float | None) -> Decision:
    """Replicas for a stage with `current` replicas whose ready pods report `loads`.

    Wanted = ceil(total load / target per pod), clamped to the bounds. Bounds apply at once; a
    change inside them waits for its cooldown since the last scale. Pods still starting count in
    `current`, so their coming capacity is not asked for twice.
    """
    if current < bounds.min_replicas:
        return Decision(bounds.min_replicas, "below the minimum")
    if current > bounds.max_replicas:
        return Decision(bounds.max_replicas, "above the maximum")
    if not loads:
        return Decision(current, "no pod reported its load")
    total = sum(loads)
    if abs(total / (current * bounds.target_load) - 1) <= pace.tolerance:
        return Decision(current, f"load {total:g} within tolerance of the target")
    wanted = min(max(math.ceil(total / bounds.target_load), bounds.min_replicas),
                 bounds.max_replicas)
    since = math.inf if last_scaled_at is None else now - last_scaled_at
    if wanted > current:
        if since < pace.up_cooldown_seconds:
            return Decision(current, f"load {total:g} wants {wanted}: scale-up cooling down")
        return Decision(wanted, f"load {total:g} wants {wanted}")
    if wanted < current:
        if since < pace.down_cooldown_seconds:
            return Decision(current, f"load {total:g} wants {wanted}: scale-down cooling down")
        step = max(wanted, current - pace.max_step_down)
        return Decision(step, f"load {total:g} wants {wanted}")
    return Decision(current, f"load {total:g} fits {current}")


def bounds_from_annotations(annotations: Mapping[str, str]) -> Bounds:
    return Bounds(int(annotations[MIN_REPLICAS]), int(annotations[MAX_REPLICAS]),
                  float(annotations[TARGET_LOAD]))


class StageAutoscaler:
    def __init__(self, apps, namespace: str, read_loads: ReadLoads, pace: Pace,
                 clock: Callable[[], float] = time.monotonic):
        self.apps = apps
        self.namespace = namespace
        self.read_loads = read_loads
        self.pace = pace
        self.clock = clock
        self.last_scaled_at: dict[str, float] = {}

    def step(self) -> dict[str, Decision]:
        """One pass over every stage Deployment of the namespace."""
        decisions = {}
        deployments = self.apps.list_namespaced_deployment(
            self.namespace, label_selector=ALL_STAGES_SELECTOR).items
        for deployment in deployments:
            stage = deployment.metadata.labels[STAGE_LABEL]
            annotations = deployment.metadata.annotations or {}
            try:
                bounds = bounds_from_annotations(annotations)
            except (KeyError, ValueError) as error:
                logger.warning("%s: no usable scaling annotations (%s); left alone", stage, error)
                continue
            now = self.clock()
            current = deployment.spec.replicas
            loads = self.read_loads(stage, annotations.get(LOAD_METRIC, DEFAULT_LOAD_METRIC))
            decision = decide(current, loads, bounds, self.pace, now,
                              self.last_scaled_at.get(stage))
            decisions[stage] = decision
            if decision.replicas != current:
                logger.info("%s: %d -> %d replicas (%s)", stage, current, decision.replicas,
                            decision.reason)
                self.apps.patch_namespaced_deployment_scale(
                    deployment.metadata.name, self.namespace,
                    {"spec": {"replicas": decision.replicas}})
                self.last_scaled_at[stage] = now
        return decisions

    def run(self, interval_seconds: float, iterations: int | None = None,
            sleep: Callable[[float], None] = time.sleep) -> None:
        """Steps every interval; an API error is logged and the next pass tries again."""
        done = 0
        while iterations is None or done < iterations:
            try:
                self.step()
            except Exception as error:  # noqa: BLE001 - a controller outlives transient errors
                logger.error("autoscaler pass failed: %s", error)
            done += 1
            if iterations is None or done < iterations:
                sleep(interval_seconds)
