"""Reading a stage's load from its pods' Prometheus endpoints."""

from unittest.mock import call

from tests.deploy.fakes import core_api, pod
from unclip_mesh.deploy.load import LoadReader, metric_value, via_proxy

EXPOSITION = """# HELP unclip_inflight_requests Calls admitted and not finished.
# TYPE unclip_inflight_requests gauge
unclip_inflight_requests{stage="decoder"} 3.0
# HELP unclip_queue_depth Calls waiting for a batch slot.
# TYPE unclip_queue_depth gauge
unclip_queue_depth{stage="decoder"} 1.0
"""


def test_metric_value_sums_the_samples_of_one_metric():
    assert metric_value(EXPOSITION, "unclip_inflight_requests") == 3.0
    assert metric_value(EXPOSITION, "unclip_queue_depth") == 1.0
    two = 'm{stage="a"} 1\nm{stage="b"} 2\n'
    assert metric_value(two, "m") == 3.0
    assert metric_value(EXPOSITION, "absent") is None


def test_reader_lists_the_stage_pods_and_reads_the_ready_ones():
    core = core_api(pod("a"), pod("b", ready=False), pod("c"))
    fetched = []

    def fetch(p):
        fetched.append(p.metadata.name)
        return EXPOSITION

    loads = LoadReader(core, "gen", fetch)("decoder", "unclip_inflight_requests")
    core.list_namespaced_pod.assert_called_once_with(
        "gen", label_selector="app.kubernetes.io/name=unclip-mesh,unclip-mesh/stage=decoder"
    )
    assert fetched == ["a", "c"] and loads == [3.0, 3.0]


def test_reader_skips_pods_that_fail_or_lack_the_metric():
    core = core_api(pod("a"), pod("b"), pod("c"))
    answers = {"a": OSError("refused"), "b": "other 1\n", "c": EXPOSITION}

    def fetch(p):
        answer = answers[p.metadata.name]
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert LoadReader(core, "gen", fetch)("decoder", "unclip_inflight_requests") == [3.0]


def test_proxy_fetch_goes_through_the_api_server_pod_proxy():
    core = core_api()
    core.connect_get_namespaced_pod_proxy_with_path.return_value = EXPOSITION
    assert via_proxy(core)(pod("unclip-decoder-x", namespace="gen")) == EXPOSITION
    assert core.connect_get_namespaced_pod_proxy_with_path.call_args_list == [
        call("unclip-decoder-x:9090", "gen", "metrics", _request_timeout=2.0)
    ]
