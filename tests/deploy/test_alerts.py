"""The alert rules through Prometheus's own tools: `promtool check rules` on every overlay's
PrometheusRule, and `promtool test rules` with, for each alert of each stage, series that make it
fire (checked with its labels and summary) and series on the safe side that keep it quiet."""

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import by_kind
from tests.required_tools import program
from unclip_mesh.deploy.alerts import Alert, stage_alerts
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.profiles import OVERLAYS
from unclip_mesh.deploy.queries import INFLIGHT
from unclip_mesh.deploy.render import render
from unclip_mesh.deploy.stages import all_stages

OPTIONS = RenderOptions(overlay="cpu-demo", monitoring=True)
NAMESPACE = OPTIONS.target_namespace
TIMEOUT_SECONDS = 120


def _rules(options: RenderOptions) -> dict:
    (rule,) = by_kind(render(options), "PrometheusRule").values()
    return rule["spec"]


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [program("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )


def _series(name: str, stage: str, values: str, **labels: str) -> dict:
    matchers = ", ".join(
        f'{k}="{v}"' for k, v in {"stage": stage, "namespace": NAMESPACE, "pod": "p0", **labels}.items()
    )
    return {"series": f"{name}{{{matchers}}}", "values": values}


def _calls(stage: str, refused_per_minute: int, ok_per_minute: int) -> list[dict]:
    return [
        _series(
            "unclip_rpc_requests_total",
            stage,
            f"0+{refused_per_minute}x30",
            method="Call",
            code="RESOURCE_EXHAUSTED",
        ),
        _series("unclip_rpc_requests_total", stage, f"0+{ok_per_minute}x30", method="Call", code="OK"),
    ]


def _latencies(stage: str, threshold: float, slow: bool) -> list[dict]:
    """Ten calls a minute, all above the threshold (slow) or all at or below it."""
    bucket = "unclip_rpc_duration_seconds_bucket"
    return [
        _series(bucket, stage, "0+0x30" if slow else "0+10x30", method="Call", le=f"{threshold:g}"),
        _series(bucket, stage, "0+10x30", method="Call", le=f"{threshold * 2:g}"),
        _series(bucket, stage, "0+10x30", method="Call", le="+Inf"),
    ]


def _inputs(stage: str, kind: str, fire: bool) -> list[dict]:
    """Series for `stage` that make its `kind` alert fire, or the nearest ones that must not."""
    profile = OPTIONS.profile.stages[stage]
    if kind == "Backlog":
        return [_series(INFLIGHT, stage, f"{profile.target_load + (1 if fire else 0)}x30")]
    if kind == "Refusing":
        return _calls(stage, 1, 9 if fire else 99)  # 10 % refused, or 1 %
    if kind == "SlowP99":
        return _latencies(stage, profile.slow_p99_seconds, slow=fire)
    other = next(s for s in all_stages() if s != stage)
    return [_series(INFLIGHT, other if fire else stage, "0x30")]  # Down: no series of the stage


def _case(alert: Alert, fire: bool) -> dict:
    expected = (
        [
            {
                "exp_labels": {"severity": alert.severity, "stage": alert.stage, "namespace": NAMESPACE},
                "exp_annotations": {"summary": alert.summary},
            }
        ]
        if fire
        else []
    )
    return {
        "interval": "1m",
        "input_series": _inputs(alert.stage, alert.kind, fire),
        "alert_rule_test": [{"eval_time": "20m", "alertname": alert.name, "exp_alerts": expected}],
    }


def _write_rule_tests(folder: Path, rules: dict) -> Path:
    (folder / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    cases = [
        _case(alert, fire)
        for stage in all_stages()
        for alert in stage_alerts(stage, OPTIONS)
        for fire in (True, False)
    ]
    tests = folder / "tests.yaml"
    tests.write_text(
        yaml.safe_dump(
            {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": cases}, sort_keys=False
        )
    )
    return tests


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_promtool_checks_the_rules_of_each_overlay(overlay, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(_rules(RenderOptions(overlay=overlay, monitoring=True))))
    checked = _promtool("check", "rules", str(rules), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {4 * len(all_stages())} rules found" in checked.stdout


def test_each_alert_fires_on_its_condition_and_only_then(tmp_path):
    tests = _write_rule_tests(tmp_path, _rules(OPTIONS))
    tested = _promtool("test", "rules", tests.name, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_the_rule_tests_catch_a_wrong_threshold(tmp_path):
    rules = copy.deepcopy(_rules(OPTIONS))
    backlog = next(r for r in rules["groups"][0]["rules"] if r["alert"] == "UnclipDecoderBacklog")
    backlog["expr"] = backlog["expr"].replace(">", ">=")  # fires at the target itself
    tests = _write_rule_tests(tmp_path, rules)
    tested = _promtool("test", "rules", tests.name, cwd=tmp_path)
    assert tested.returncode != 0
    assert "UnclipDecoderBacklog" in tested.stdout + tested.stderr
