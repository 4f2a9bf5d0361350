"""apply, status and scale: the exact API calls they make (fake clients)."""

from unittest.mock import call

import pytest

from tests.deploy.fakes import apps_api, deployment, dynamic_client
from unclip_mesh.deploy.actions import FIELD_MANAGER, StageStatus, apply, format_status, scale, status
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.render import render


def test_apply_server_side_applies_every_object_with_our_field_manager_forcing_conflicts():
    objects = render(RenderOptions(overlay="gpu"))
    dynamic = dynamic_client()
    applied = apply(dynamic, objects)
    assert dynamic.resources.get.call_args_list == [
        call(api_version=o["apiVersion"], kind=o["kind"]) for o in objects
    ]
    assert dynamic.server_side_apply.call_args_list == [
        call(
            f"resource:{o['apiVersion']}/{o['kind']}",
            body=o,
            name=o["metadata"]["name"],
            namespace=o["metadata"].get("namespace"),
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
            dry_run=None,
        )
        for o in objects
    ]
    assert applied[:2] == ["Namespace/unclip", "PersistentVolumeClaim/unclip-models"]
    assert len(applied) == len(objects)


def test_apply_dry_run_asks_the_server_to_check_only():
    dynamic = dynamic_client()
    apply(dynamic, render(RenderOptions())[:1], dry_run=True)
    assert dynamic.server_side_apply.call_args.kwargs["dry_run"] == "All"


def test_namespace_is_applied_before_what_lives_in_it():
    objects = render(RenderOptions(scaler="keda", monitoring=True))
    assert objects[0]["kind"] == "Namespace"
    assert all(o["metadata"]["namespace"] == objects[0]["metadata"]["name"] for o in objects[1:])


def test_status_lists_stage_deployments_and_reads_their_load():
    apps = apps_api(
        deployment("prior", 2, ready=1),
        deployment("decoder", 3, ready=3),
        deployment("orchestrator", 2, ready=None),
    )
    loads = {"decoder": [3, 4, 5], "prior": [2], "orchestrator": []}
    rows = status(apps, "gen", lambda stage, metric: loads[stage])
    apps.list_namespaced_deployment.assert_called_once_with(
        "gen", label_selector="app.kubernetes.io/name=unclip-mesh,unclip-mesh/stage"
    )
    assert rows == [
        StageStatus("prior", 2, 1, [2]),
        StageStatus("decoder", 3, 3, [3, 4, 5]),
        StageStatus("orchestrator", 2, 0, []),
    ]


def test_status_table():
    table = format_status([StageStatus("decoder", 3, 2, [3, 4]), StageStatus("orchestrator", 2, 2, [])])
    lines = table.splitlines()
    assert lines[0].split() == ["STAGE", "DESIRED", "READY", "LOAD", "PER", "POD"]
    assert lines[1].split() == ["decoder", "3", "2", "7", "3.5"]
    assert lines[2].split() == ["orchestrator", "2", "2", "-", "-"]


def test_scale_patches_the_stage_scale_subresource():
    apps = apps_api()
    scale(apps, "gen", "upsampler_1024", 4)
    assert apps.mock_calls == [
        call.patch_namespaced_deployment_scale("unclip-upsampler-1024", "gen", {"spec": {"replicas": 4}})
    ]


def test_scale_refuses_negative_replicas():
    with pytest.raises(ValueError):
        scale(apps_api(), "gen", "prior", -1)
