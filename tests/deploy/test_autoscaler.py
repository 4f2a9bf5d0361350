"""The stage autoscaler: its decisions (pure) and the API calls of its loop (fake client)."""

from unittest.mock import call

import pytest

from services.deploy.autoscaler import (Bounds, Decision, Pace, StageAutoscaler,
                                        bounds_from_annotations, decide)
from tests.deploy.fakes import apps_api, deployment

BOUNDS = Bounds(min_replicas=2, max_replicas=10, target_load=4)
PACE = Pace(up_cooldown_seconds=30, down_cooldown_seconds=300, max_step_down=1, tolerance=0.1)


def replicas(current, loads, bounds=BOUNDS, pace=PACE, now=1000.0, last=None) -> int:
    return decide(current, loads, bounds, pace, now, last).replicas


@pytest.mark.parametrize("current, loads, expected", [
    (2, [8, 8], 4),  # 16 in flight / 4 per pod
    (2, [9, 8], 5),  # rounds up
    (3, [4, 4, 4], 3),  # at target
    (3, [4.3, 4, 4], 3),  # within 10 %
    (3, [5, 5, 5], 4),  # past the tolerance
    (4, [40, 40, 40, 40], 10),  # capped at the maximum
    (4, [0, 0, 0, 0], 3),  # idle: one step down at a time
    (3, [0, 0, 0], 2),  # never under the minimum
    (2, [0, 0], 2),  # already at the minimum
])
def test_wanted_replicas_follow_total_load(current, loads, expected):
    assert replicas(current, loads) == expected


def test_bounds_apply_at_once_even_while_cooling_down():
    assert decide(1, [], BOUNDS, PACE, 1000, 999) == Decision(2, "below the minimum")
    assert decide(12, [0] * 12, BOUNDS, PACE, 1000, 999) == Decision(10, "above the maximum")


def test_no_reported_load_keeps_the_count():
    assert decide(5, [], BOUNDS, PACE, 1000, None) == Decision(5, "no pod reported its load")


def test_pods_still_starting_are_not_asked_for_twice():
    # 4 replicas wanted, 2 of them still loading: the 2 ready pods carry all 16.
    assert replicas(4, [8, 8]) == 4


@pytest.mark.parametrize("since, expected", [(10, 3), (29.9, 3), (30, 6), (500, 6)])
def test_scale_up_waits_for_its_cooldown(since, expected):
    assert replicas(3, [8, 8, 8], now=1000, last=1000 - since) == expected


@pytest.mark.parametrize("since, expected", [(30, 5), (299, 5), (300, 4), (1000, 4)])
def test_scale_down_waits_for_its_longer_cooldown(since, expected):
    assert replicas(5, [0] * 5, now=1000, last=1000 - since) == expected


def test_step_down_size_is_bounded_by_the_pace():
    fast = Pace(down_cooldown_seconds=0, max_step_down=3)
    assert replicas(9, [1] * 9, pace=fast) == 6
    assert replicas(9, [4] * 2, pace=fast) == 6
    assert replicas(9, [12], pace=fast) == 6


def test_reasons_say_why():
    assert "cooling down" in decide(3, [20, 20, 20], BOUNDS, PACE, 1000, 990).reason
    assert "wants 10" in decide(3, [20, 20, 20], BOUNDS, PACE, 1000, None).reason


@pytest.mark.parametrize("kwargs", [dict(min_replicas=0, max_replicas=2, target_load=1),
                                    dict(min_replicas=3, max_replicas=2, target_load=1),
                                    dict(min_replicas=1, max_replicas=2, target_load=0)])
def test_bounds_refuse_nonsense(kwargs):
    with pytest.raises(ValueError):
        Bounds(**kwargs)


def test_bounds_come_from_the_rendered_annotations():
    from services.deploy.options import RenderOptions
    from services.deploy.scaling import scaling_annotations

    annotations = scaling_annotations("decoder", RenderOptions(overlay="gpu"))
    assert bounds_from_annotations(annotations) == Bounds(2, 12, 8.0)


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_step_lists_stage_deployments_and_patches_the_scale_subresource():
    apps = apps_api(deployment("decoder", 2, min_replicas=1), deployment("prior", 1))
    loads = {"decoder": [12, 12], "prior": [1]}
    read = []

    def read_loads(stage, metric):
        read.append((stage, metric))
        return loads[stage]

    controller = StageAutoscaler(apps, "gen", read_loads, PACE, clock=Clock())
    decisions = controller.step()
    assert apps.mock_calls == [
        call.list_namespaced_deployment(
            "gen", label_selector="app.kubernetes.io/name=unclip-mesh,unclip-mesh/stage"),
        call.patch_namespaced_deployment_scale("unclip-decoder", "gen", {"spec": {"replicas": 6}}),
    ]
    assert read == [("decoder", "unclip_inflight_requests"), ("prior", "unclip_inflight_requests")]
    assert decisions["prior"].replicas == 1
    assert controller.last_scaled_at == {"decoder": 1000.0}


def test_step_remembers_its_last_scale_for_the_cooldown():
    apps = apps_api(deployment("decoder", 2, min_replicas=1))
    loads = [12, 12]
    clock = Clock()
    controller = StageAutoscaler(apps, "gen", lambda stage, metric: loads, PACE, clock=clock)
    controller.step()  # 2 -> 6 at t=1000
    apps.list_namespaced_deployment.return_value.items = [deployment("decoder", 6, min_replicas=1)]
    apps.patch_namespaced_deployment_scale.reset_mock()
    loads[:] = [8] * 6
    clock.now = 1010
    assert controller.step()["decoder"].replicas == 6  # wants 12 -> 10, cooling down
    apps.patch_namespaced_deployment_scale.assert_not_called()
    clock.now = 1030
    assert controller.step()["decoder"].replicas == 10
    apps.patch_namespaced_deployment_scale.assert_called_once_with(
        "unclip-decoder", "gen", {"spec": {"replicas": 10}})


def test_step_leaves_deployments_without_scaling_annotations_alone():
    apps = apps_api(deployment("decoder", 2, annotations={}))
    assert StageAutoscaler(apps, "gen", lambda s, m: [100], PACE).step() == {}
    apps.patch_namespaced_deployment_scale.assert_not_called()


def test_run_survives_a_failing_pass_and_sleeps_between_passes():
    apps = apps_api(deployment("decoder", 2, min_replicas=1))
    apps.list_namespaced_deployment.side_effect = [RuntimeError("api down"),
                                                   apps.list_namespaced_deployment.return_value]
    slept = []
    controller = StageAutoscaler(apps, "gen", lambda s, m: [12, 12], PACE, clock=Clock())
    controller.run(15.0, iterations=2, sleep=slept.append)
    assert slept == [15.0]
    apps.patch_namespaced_deployment_scale.assert_called_once_with(
        "unclip-decoder", "gen", {"spec": {"replicas": 6}})
