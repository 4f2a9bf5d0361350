"""Policies every stage must meet, in every overlay and with either scaler."""

import pytest

from services import stage_registry
from services.stage_registry import GATEWAY, MODEL, ORCHESTRATOR
from tests.deploy.manifests import RENDERINGS, by_kind, rendered, selects
from unclip_mesh.deploy.config import orchestrator_target, peers
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.render import render
from unclip_mesh.deploy.stages import (
    all_stages,
    grpc_port,
    model_stages,
    object_name,
    queued_stages,
    serving_port,
)
from unclip_mesh.deploy.workloads import GPU_RESOURCE

CASES = [(name, stage) for name in sorted(RENDERINGS) for stage in all_stages()]
INFLIGHT = "unclip_inflight_requests"  # the default load metric


def _pod(objects, stage):
    return by_kind(objects, "Deployment")[object_name(stage)]["spec"]["template"]


def _container(objects, stage):
    (container,) = _pod(objects, stage)["spec"]["containers"]
    return container


@pytest.mark.parametrize("name, stage", [c for c in CASES if c[1] != GATEWAY])
def test_native_grpc_probes_on_the_stage_port(name, stage):
    container = _container(rendered(name), stage)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": grpc_port(stage)}, probe


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_gateway_probes_are_http_and_readiness_follows_the_mesh(name):
    container = _container(rendered(name), GATEWAY)
    assert (
        container["startupProbe"]["httpGet"]
        == container["livenessProbe"]["httpGet"]
        == {"path": "/healthz", "port": "http"}
    )
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


@pytest.mark.parametrize("name, stage", CASES)
def test_liveness_outlasts_a_drain_and_termination_outlasts_pre_stop_plus_drain(name, stage):
    objects = rendered(name)
    pod, container = _pod(objects, stage), _container(objects, stage)
    grace = float(by_kind(objects, "ConfigMap")[object_name(stage)]["data"]["UNCLIP_GRACE_SECONDS"])
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["spec"]["terminationGracePeriodSeconds"] > pre_stop + grace
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > pre_stop + grace


@pytest.mark.parametrize("name, stage", CASES)
def test_resources_requests_and_limits(name, stage):
    resources = _container(rendered(name), stage)["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), kind
    wants_gpu = name.startswith("gpu/") and stage in model_stages()
    assert (GPU_RESOURCE in resources["limits"]) == wants_gpu
    if wants_gpu:
        assert resources["requests"][GPU_RESOURCE] == resources["limits"][GPU_RESOURCE] == "1"


@pytest.mark.parametrize("name, stage", CASES)
def test_non_root_read_only_context(name, stage):
    objects = rendered(name)
    pod_context = _pod(objects, stage)["spec"]["securityContext"]
    assert pod_context["runAsNonRoot"] is True and pod_context["runAsUser"] > 0
    assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
    context = _container(objects, stage)["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}


@pytest.mark.parametrize("name, stage", CASES)
def test_pod_disruption_budget_covers_the_stage_and_allows_drains(name, stage):
    objects = rendered(name)
    budget = by_kind(objects, "PodDisruptionBudget")[object_name(stage)]
    assert budget["apiVersion"] == "policy/v1"
    assert selects(budget["spec"]["selector"], _pod(objects, stage)["metadata"]["labels"])
    assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("name, stage", CASES)
def test_service_selects_the_stage_on_its_serving_port(name, stage):
    objects = rendered(name)
    service = by_kind(objects, "Service")[object_name(stage)]
    assert selects({"matchLabels": service["spec"]["selector"]}, _pod(objects, stage)["metadata"]["labels"])
    port_name, port = serving_port(stage)
    assert port_name == ("http" if stage == GATEWAY else "grpc")
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(port, port_name)]
    assert {"name": port_name, "containerPort": port, "protocol": "TCP"} in _container(objects, stage)[
        "ports"
    ]
    assert (service["spec"].get("clusterIP") == "None") == (stage in model_stages())


@pytest.mark.parametrize("name, stage", CASES)
def test_network_policy_lets_only_the_orchestrator_reach_a_stage(name, stage):
    objects = rendered(name)
    labels = _pod(objects, stage)["metadata"]["labels"]
    orchestrator_labels = _pod(objects, ORCHESTRATOR)["metadata"]["labels"]
    policies = [
        p for p in by_kind(objects, "NetworkPolicy").values() if selects(p["spec"]["podSelector"], labels)
    ]
    assert len(policies) == 1, "every stage pod is covered by exactly one policy"
    (policy,) = policies
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    port_name = serving_port(stage)[0]
    serving_rules = [
        r for r in policy["spec"]["ingress"] if {"port": port_name, "protocol": "TCP"} in r["ports"]
    ]
    assert len(serving_rules) == 1
    sources = serving_rules[0].get("from")
    if stage in (ORCHESTRATOR, GATEWAY):
        assert sources is None  # callers come from anywhere
    else:
        assert [list(s) for s in sources] == [["podSelector"]]
        assert selects(sources[0]["podSelector"], orchestrator_labels)
        assert not selects(sources[0]["podSelector"], labels)
    for rule in policy["spec"]["ingress"]:
        assert all(port["port"] in (port_name, "metrics") for port in rule["ports"])
    (metrics_rule,) = [
        r for r in policy["spec"]["ingress"] if {"port": "metrics", "protocol": "TCP"} in r["ports"]
    ]
    assert [list(source) for source in metrics_rule["from"]] == [["namespaceSelector"]]


@pytest.mark.parametrize("name, stage", CASES)
def test_scaled_on_load_with_cpu_fallback_by_an_hpa_or_keda(name, stage):
    objects = rendered(name)
    deployment = by_kind(objects, "Deployment")[object_name(stage)]
    assert "replicas" not in deployment["spec"], "an apply must not reset the scaler's count"
    profile = RENDERINGS[name].profile.stages[stage]
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": object_name(stage)}
    if name.endswith("/keda"):
        assert not by_kind(objects, "HorizontalPodAutoscaler"), "KEDA makes its own HPA"
        spec = by_kind(objects, "ScaledObject")[object_name(stage)]["spec"]
        assert spec["scaleTargetRef"] == target
        assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (
            profile.min_replicas,
            profile.max_replicas,
        )
        load, cpu = spec["triggers"]
        assert load["type"] == "prometheus" and load["metricType"] == "AverageValue"
        namespace = deployment["metadata"]["namespace"]
        assert load["metadata"]["query"] == f'sum({INFLIGHT}{{stage="{stage}", namespace="{namespace}"}})'
        assert float(load["metadata"]["threshold"]) == profile.target_load
        assert cpu["type"] == "cpu"
        return
    assert not by_kind(objects, "ScaledObject")
    hpa = by_kind(objects, "HorizontalPodAutoscaler")[object_name(stage)]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == target
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (
        profile.min_replicas,
        profile.max_replicas,
    )
    load, cpu = hpa["spec"]["metrics"]
    assert load["type"] == "Pods" and load["pods"]["metric"] == {"name": INFLIGHT}
    assert cpu["type"] == "Resource" and cpu["resource"]["name"] == "cpu"


@pytest.mark.parametrize("stage", all_stages())
def test_queue_depth_scales_only_the_stages_that_have_a_queue(stage):
    objects = render(RenderOptions(load_metric="unclip_queue_depth"))
    hpa = by_kind(objects, "HorizontalPodAutoscaler")[object_name(stage)]
    (metric,) = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert metric == ("unclip_queue_depth" if stage in queued_stages() else INFLIGHT)


@pytest.mark.parametrize("name, stage", CASES)
def test_a_pod_monitor_scrapes_each_stage_on_its_metrics_port(name, stage):
    objects = rendered(name)
    monitor = by_kind(objects, "PodMonitor")[object_name(stage)]["spec"]
    pod = _pod(objects, stage)
    assert selects(monitor["selector"], pod["metadata"]["labels"])
    other = ORCHESTRATOR if stage != ORCHESTRATOR else "decoder"
    assert not selects(monitor["selector"], _pod(objects, other)["metadata"]["labels"])
    (endpoint,) = monitor["podMetricsEndpoints"]
    assert {"name": endpoint["port"], "containerPort": 9090, "protocol": "TCP"} in _container(objects, stage)[
        "ports"
    ]


@pytest.mark.parametrize("name, stage", CASES)
def test_config_map_feeds_the_runtime_settings(name, stage):
    objects = rendered(name)
    config = by_kind(objects, "ConfigMap")[object_name(stage)]
    container = _container(objects, stage)
    assert container["envFrom"] == [{"configMapRef": {"name": object_name(stage)}}]
    assert container["args"] == ["serve", stage]
    data = config["data"]
    assert all(key.startswith("UNCLIP_") for key in data)
    assert data["UNCLIP_PORT"] == str(serving_port(stage)[1]) and data["UNCLIP_HOST"] == "0.0.0.0"
    assert data["UNCLIP_METRICS_PORT"] == "9090"
    if stage == GATEWAY:
        assert int(data["UNCLIP_MAX_IN_FLIGHT"]) > 0
    else:
        assert float(data["UNCLIP_MAX_CONNECTION_AGE_SECONDS"]) > 0
    if stage in model_stages():
        assert data["UNCLIP_DEVICE"] == ("cuda" if name.startswith("gpu/") else "cpu")


@pytest.mark.parametrize("name, stage", [c for c in CASES if c[1] in model_stages()])
def test_model_stages_read_the_bundle_read_only_from_the_claim(name, stage):
    objects = rendered(name)
    pod = _pod(objects, stage)
    claim = next(iter(by_kind(objects, "PersistentVolumeClaim")))
    assert {"name": "models", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}} in pod["spec"][
        "volumes"
    ]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in _container(objects, stage)[
        "volumeMounts"
    ]
    bundle = by_kind(objects, "ConfigMap")[object_name(stage)]["data"]["UNCLIP_BUNDLE"]
    assert bundle == "/models/bundle"


@pytest.mark.parametrize("stage", model_stages())
def test_gpu_stages_select_their_pool_and_tolerate_gpu_taints(stage):
    pod = _pod(rendered("gpu/hpa"), stage)["spec"]
    (pool,) = pod["nodeSelector"].values()
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert any(t.get("value") == pool for t in pod["tolerations"])
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }


def test_node_pool_option_moves_one_stage():
    objects = render(RenderOptions(overlay="gpu", node_pools={"decoder": "h100"}))
    assert _pod(objects, "decoder")["spec"]["nodeSelector"] == {"unclip-mesh/node-pool": "h100"}
    assert _pod(objects, "prior")["spec"]["nodeSelector"] == {"unclip-mesh/node-pool": "gpu-medium"}


def test_orchestrator_dials_each_headless_service_by_dns():
    options = RenderOptions(overlay="gpu", namespace="gen")
    expected = {
        stage: f"dns:///{object_name(stage)}.gen.svc.cluster.local:{grpc_port(stage)}"
        for stage in model_stages()
    }
    assert dict(item.split("=", 1) for item in peers(options).split(";")) == expected


def test_gateway_dials_the_orchestrator_service_by_dns():
    options = RenderOptions(overlay="gpu", namespace="gen")
    assert orchestrator_target(options) == "dns:///unclip-orchestrator.gen.svc.cluster.local:50056"
    config = by_kind(render(options), "ConfigMap")[object_name(GATEWAY)]["data"]
    assert config["UNCLIP_ORCHESTRATOR"] == orchestrator_target(options)


def test_a_changed_config_map_rolls_the_pods():
    def config_hash(options):
        return _pod(render(options), "prior")["metadata"]["annotations"]["unclip-mesh/config-hash"]

    assert config_hash(RenderOptions(overlay="gpu")) != config_hash(RenderOptions(overlay="cpu-demo"))


def test_every_object_is_in_the_target_namespace():
    objects = render(RenderOptions(overlay="gpu", namespace="elsewhere", scaler="keda", monitoring=True))
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "elsewhere", obj["metadata"]["name"]
    for scaled in by_kind(objects, "ScaledObject").values():
        assert 'namespace="elsewhere"' in scaled["spec"]["triggers"][0]["metadata"]["query"]


@pytest.mark.parametrize("name, stage", CASES)
def test_each_stage_runs_its_roles_image_and_only_model_images_follow_the_device(name, stage):
    role = stage_registry.get(stage).role
    device = "cuda" if name.startswith("gpu/") else "cpu"
    expected = f"unclip-mesh-model:0.1.0-{device}" if role == MODEL else f"unclip-mesh-{role}:0.1.0"
    assert _container(rendered(name), stage)["image"] == expected


@pytest.mark.parametrize(
    "image, stage, expected",
    [
        ("reg:5000/team/unclip:1.2", "decoder", "reg:5000/team/unclip-model:1.2-cuda"),
        ("reg:5000/team/unclip:1.2", ORCHESTRATOR, "reg:5000/team/unclip-orchestrator:1.2"),
        ("reg/unclip", "prior", "reg/unclip-model:0.1.0-cuda"),  # no version: the overlay's
        ("reg/unclip", GATEWAY, "reg/unclip-gateway:0.1.0"),
    ],
)
def test_image_option_names_the_family_of_role_images(image, stage, expected):
    assert _container(render(RenderOptions(overlay="gpu", image=image)), stage)["image"] == expected


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"image": "reg/unclip@sha256:0123"}, "a digest names one image"),
        ({"image": "reg/:1"}, "expected"),
        ({"overlay": "tpu"}, "unknown overlay"),
        ({"scaler": "controller"}, "unknown scaler"),
        ({"node_pools": {"vae": "x"}}, "unknown stage"),
    ],
)
def test_render_options_refuse_unknown_values(bad, message):
    with pytest.raises(ValueError, match=message):
        RenderOptions(**bad)
