"""The PromQL of unclip_mesh/deploy/queries.py is what docs/OPERATIONS.md shows, and the adapter
query is the rule's template filled in as prometheus-adapter fills it."""

import textwrap
from pathlib import Path

import pytest
import yaml

from unclip_mesh.deploy import queries
from unclip_mesh.deploy.queries import INFLIGHT, Scope

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "OPERATIONS.md"
SCOPE = Scope("STAGE", "NAMESPACE")


def _operations() -> str:
    return OPERATIONS.read_text().replace("\\|", "|")  # a table cell escapes PromQL's `|`


@pytest.mark.parametrize(
    "expr",
    [
        queries.load(INFLIGHT, SCOPE),
        queries.load_per_replica(INFLIGHT, SCOPE),
        queries.refusal_ratio(SCOPE),
        queries.latency_p99(SCOPE),
        queries.no_replica_scraped(SCOPE),
        queries.adapter_query(INFLIGHT, "NAMESPACE", ["POD", "POD"]),
    ],
)
def test_the_docs_show_each_query_as_the_code_writes_it(expr):
    assert f"`{expr}`" in _operations()


def test_the_docs_hold_the_adapter_rule():
    rule = yaml.safe_dump({"rules": [queries.adapter_rule(INFLIGHT)]}, sort_keys=False)
    assert textwrap.indent(rule, "    ") in _operations()


def test_the_adapter_query_fills_the_rules_template_for_the_hpas_pods():
    assert queries.adapter_query("m", "ns", ["a", "b"]) == 'sum(m{namespace="ns",pod=~"a|b"}) by (pod)'


def test_every_query_is_scoped_to_one_stage_of_one_namespace():
    scope = Scope("decoder", "gen")
    for expr in (
        queries.load(INFLIGHT, scope),
        queries.refusal_ratio(scope),
        queries.latency_p99(scope),
        queries.no_replica_scraped(scope),
    ):
        selectors = expr.count("{")
        assert selectors and expr.count('stage="decoder", namespace="gen"') == selectors, expr
