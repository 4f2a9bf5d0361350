"""A real Prometheus scraping a local mesh, with the rendered alert rules loaded: after a few
requests and a burst past the orchestrator's admission limit, the exact queries of the KEDA
triggers, of the HPA's metrics adapter and of the alerts give the expected series and values from
Prometheus's HTTP API.

Targets carry the `namespace` and `pod` labels a PodMonitor gives them. The last test stops a stage.
"""

import math
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
import pytest

from services.stage_registry import GATEWAY, ORCHESTRATOR
from services.telemetry.metrics import RPC_SECONDS
from tests.deploy.manifests import by_kind
from tests.e2e.metered_mesh import MeteredMesh
from tests.e2e.prometheus_server import SCRAPE_SECONDS, Prometheus, running_prometheus
from unclip.v1 import generation_pb2, generation_pb2_grpc
from unclip_mesh.bundles.tiny import write_tiny_bundle
from unclip_mesh.deploy.alerts import stage_alerts
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.queries import adapter_query
from unclip_mesh.deploy.render import render
from unclip_mesh.deploy.stages import all_stages, object_name

pytestmark = pytest.mark.e2e

OPTIONS = RenderOptions(overlay="cpu-demo", namespace="unclip-e2e", scaler="keda", monitoring=True)
NAMESPACE = OPTIONS.target_namespace
ADMITTED = 2  # the orchestrator's --max-queue: generations at once
BURST = 8
SEQUENTIAL = 3
STOPPED = "upsampler_1024"
# What the local mesh runs: the gateway is an HTTP service in front of it, not started here (its
# metrics are read in tests/gateway).
MESH_STAGES = tuple(stage for stage in all_stages() if stage != GATEWAY)


def _pod(stage: str) -> str:
    return f"{object_name(stage)}-0"


def _signals(kind: str) -> dict[str, str]:
    return {
        stage: next(a.signal for a in stage_alerts(stage, OPTIONS) if a.kind == kind) for stage in MESH_STAGES
    }


@dataclass
class Observed:
    prometheus: Prometheus
    mesh: MeteredMesh
    burst: tuple[float, float]  # wall-clock start and end
    codes: list[grpc.StatusCode]  # of every call, sequential and burst
    slowest_seconds: float


def _generate(stub) -> tuple[grpc.StatusCode, float]:
    request = generation_pb2.GenerateImagesRequest(
        prompt="a red circle", seed=7, size=generation_pb2.IMAGE_SIZE_1024
    )
    for stage in ("prior", "decoder", "upsampler_256", "upsampler_1024"):
        getattr(request, stage).num_inference_steps = 2
    started = time.monotonic()
    try:
        list(stub.GenerateImages(request, timeout=120))
        code = grpc.StatusCode.OK
    except grpc.RpcError as error:
        code = error.code()
    return code, time.monotonic() - started


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    bundle = write_tiny_bundle(tmp_path_factory.mktemp("bundle"), seed=0)
    mesh = MeteredMesh(
        bundle.root,
        stage_args=("--torch-threads", "1", "--grace-seconds", "5"),
        orchestrator_args=("--max-queue", str(ADMITTED)),
    )
    (rule,) = by_kind(render(OPTIONS), "PrometheusRule").values()
    with mesh:
        targets = {
            f"127.0.0.1:{port}": {"namespace": NAMESPACE, "pod": _pod(stage)}
            for stage, port in mesh.metrics_ports.items()
        }
        with running_prometheus(tmp_path_factory.mktemp("prometheus"), targets, rule["spec"]) as prometheus:
            prometheus.wait_for("count(up == 1)", lambda r: r and r[0]["value"] == len(targets))
            with grpc.insecure_channel(mesh.target) as channel:
                stub = generation_pb2_grpc.GenerationServiceStub(channel)
                calls = [_generate(stub) for _ in range(SEQUENTIAL)]
                time.sleep(3 * SCRAPE_SECONDS)  # the calls' series, refusals at 0, are scraped
                start = time.time()
                with ThreadPoolExecutor(BURST) as pool:
                    calls += list(pool.map(lambda _: _generate(stub), range(BURST)))
                end = time.time()
            time.sleep(3 * SCRAPE_SECONDS)  # the burst's last counts are scraped
            yield Observed(
                prometheus,
                mesh,
                (start, end),
                [code for code, _ in calls],
                max(seconds for _, seconds in calls),
            )


def test_the_burst_was_refused_past_the_admission_limit(observed):
    assert observed.codes.count(grpc.StatusCode.OK) == SEQUENTIAL + ADMITTED
    assert observed.codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == BURST - ADMITTED


def test_keda_queries_give_each_stage_its_load(observed):
    queries = {
        o["metadata"]["name"]: o["spec"]["triggers"][0]["metadata"]["query"]
        for o in by_kind(render(OPTIONS), "ScaledObject").values()
    }
    for stage in MESH_STAGES:
        query = queries[object_name(stage)]
        assert observed.prometheus.query(query) == [{"metric": {}, "value": 0.0}], stage
        (during,) = observed.prometheus.query_range(query, *observed.burst)
        assert max(during["values"]) <= ADMITTED, stage
        if stage == ORCHESTRATOR:
            assert max(during["values"]) == ADMITTED


def test_the_hpa_adapter_query_gives_each_pod_its_load(observed):
    hpas = by_kind(render(RenderOptions(overlay="cpu-demo", namespace=NAMESPACE)), "HorizontalPodAutoscaler")
    for stage in MESH_STAGES:
        metric = hpas[object_name(stage)]["spec"]["metrics"][0]["pods"]["metric"]["name"]
        query = adapter_query(metric, NAMESPACE, [_pod(stage)])
        assert observed.prometheus.query(query) == [{"metric": {"pod": _pod(stage)}, "value": 0.0}]
        if stage == ORCHESTRATOR:
            (during,) = observed.prometheus.query_range(query, *observed.burst)
            assert max(during["values"]) == ADMITTED


def test_backlog_signal_is_each_stages_load_per_replica(observed):
    for stage, signal_query in _signals("Backlog").items():
        assert observed.prometheus.query(signal_query) == [{"metric": {}, "value": 0.0}], stage


def test_refusal_signal_is_the_share_of_refused_calls(observed):
    refused = BURST - ADMITTED
    share = refused / (SEQUENTIAL + BURST)
    for stage, signal_query in _signals("Refusing").items():
        (result,) = observed.prometheus.query(signal_query)
        if stage == ORCHESTRATOR:
            # rate() extrapolates each series to the window's ends, so the share is approximate
            assert result["value"] == pytest.approx(share, abs=0.1)
        else:
            assert result["value"] == 0.0, stage  # the stages admitted every call sent to them


def test_p99_signal_is_within_the_slowest_calls_bucket(observed):
    bounds = RPC_SECONDS._upper_bounds  # the histogram's own buckets
    slowest_bucket = next(b for b in bounds if b >= observed.slowest_seconds)
    for stage, signal_query in _signals("SlowP99").items():
        (result,) = observed.prometheus.query(signal_query)
        assert 0 < result["value"] <= slowest_bucket and math.isfinite(result["value"]), stage


def test_every_rule_evaluates_and_only_the_refusal_and_missing_gateway_alerts_are_pending(observed):
    """The gateway is not started here, so its Down alert sees no target, as it would in a cluster."""
    rules = observed.prometheus.rules()
    assert len(rules) == 4 * len(all_stages())  # every rendered rule, the gateway's too
    assert [r["name"] for r in rules if r["health"] != "ok"] == []
    alerts = observed.prometheus.alerts()
    assert sorted((a["labels"]["alertname"], a["state"]) for a in alerts) == [
        ("UnclipGatewayDown", "pending"),
        ("UnclipOrchestratorRefusing", "pending"),
    ]


def test_a_stopped_stage_is_down(observed):
    down = _signals("Down")
    for stage in MESH_STAGES:
        assert observed.prometheus.query(down[stage]) == [], stage
    (process,) = observed.mesh.stage_processes(STOPPED)
    os.killpg(process.popen.pid, signal.SIGKILL)
    process.popen.wait(10)
    observed.prometheus.wait_for(
        down[STOPPED],
        lambda result: result == [{"metric": {"stage": STOPPED, "namespace": NAMESPACE}, "value": 1.0}],
    )
    assert all(observed.prometheus.query(down[stage]) == [] for stage in MESH_STAGES if stage != STOPPED)
    deadline = time.monotonic() + 10
    while "UnclipUpsampler1024Down" not in {a["labels"]["alertname"] for a in observed.prometheus.alerts()}:
        assert time.monotonic() < deadline, "the Down alert did not turn pending"
        time.sleep(SCRAPE_SECONDS / 2)
