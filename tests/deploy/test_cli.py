"""`unclip-mesh deploy ...`: argument handling and wiring (the cluster is a fake)."""

import argparse

import pytest
import yaml

import unclip_mesh.deploy.clients as clients_module
from tests.deploy.fakes import apps_api, core_api, deployment, dynamic_client, pod
from unclip_mesh.cli import deploy
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.render import render


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    deploy.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["deploy", *argv])


class FakeClients:
    def __init__(self):
        self.apps = apps_api(deployment("decoder", 2, ready=2))
        self.core = core_api(pod("unclip-decoder-a"))
        self.core.connect_get_namespaced_pod_proxy_with_path.return_value = (
            'unclip_inflight_requests{stage="decoder"} 5\n'
        )
        self.dynamic_client = dynamic_client()

    def dynamic(self):
        return self.dynamic_client


@pytest.fixture
def cluster(monkeypatch):
    fake = FakeClients()
    seen = []

    def connect(environ, kubeconfig=None, context=None):
        seen.append((kubeconfig, context))
        return fake

    monkeypatch.setattr(clients_module, "connect", connect)
    fake.connections = seen
    return fake


def test_render_prints_the_manifests_for_the_options(capsys):
    assert (
        deploy.run(
            parse(
                "render",
                "--overlay",
                "gpu",
                "--namespace",
                "gen",
                "--node-pool",
                "decoder=h100",
                "--image",
                "reg/unclip:1",
            )
        )
        == 0
    )
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    assert printed == render(
        RenderOptions(overlay="gpu", namespace="gen", image="reg/unclip:1", node_pools={"decoder": "h100"})
    )


def test_render_with_keda_and_monitoring(capsys):
    assert (
        deploy.run(
            parse(
                "render",
                "--scaler",
                "keda",
                "--monitoring",
                "--prometheus-url",
                "http://prometheus.watch:9090",
            )
        )
        == 0
    )
    printed = list(yaml.safe_load_all(capsys.readouterr().out))
    assert printed == render(
        RenderOptions(scaler="keda", monitoring=True, prometheus_url="http://prometheus.watch:9090")
    )
    assert {"ScaledObject", "PodMonitor", "PrometheusRule"} <= {o["kind"] for o in printed}


def test_render_refuses_a_bad_node_pool():
    with pytest.raises(SystemExit):
        parse("render", "--node-pool", "vae=x")


def test_apply_applies_the_rendered_objects(cluster, capsys):
    assert deploy.run(parse("apply", "--overlay", "cpu-demo", "--context", "kind-demo")) == 0
    expected = render(RenderOptions(overlay="cpu-demo"))
    bodies = [c.kwargs["body"] for c in cluster.dynamic_client.server_side_apply.call_args_list]
    assert bodies == expected
    assert cluster.connections == [(None, "kind-demo")]
    assert capsys.readouterr().out.splitlines()[0] == "applied Namespace/unclip-demo"


def test_status_prints_a_row_per_stage(cluster, capsys):
    assert deploy.run(parse("status", "--namespace", "gen")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["decoder", "2", "2", "5", "5.0"]


def test_scale_patches_the_stage(cluster, capsys):
    assert deploy.run(parse("scale", "prior", "3", "--namespace", "gen")) == 0
    cluster.apps.patch_namespaced_deployment_scale.assert_called_once_with(
        "unclip-prior", "gen", {"spec": {"replicas": 3}}
    )


def test_api_errors_become_exit_status_1(cluster, capsys):
    from kubernetes.client.exceptions import ApiException

    cluster.apps.patch_namespaced_deployment_scale.side_effect = ApiException(status=403, reason="Forbidden")
    assert deploy.run(parse("scale", "prior", "3")) == 1
    assert "Forbidden" in capsys.readouterr().err


def test_kustomize_writes_the_tree(tmp_path, capsys):
    assert deploy.run(parse("kustomize", str(tmp_path))) == 0
    assert (tmp_path / "overlays" / "gpu" / "kustomization.yaml").is_file()
