"""docs/API.md's settings tables are the ones the settings definitions give."""

from tools.settings_table import API_DOC, rewrite, tables


def test_the_settings_tables_in_the_api_doc_are_current():
    text = API_DOC.read_text()
    assert rewrite(text, tables()) == text, "run `python -m tools.settings_table` and commit docs/API.md"


def test_every_option_appears_once():
    generated = tables()
    for name, body in generated.items():
        flags = [line.split("`")[1] for line in body.splitlines()[2:]]
        assert len(flags) == len(set(flags)), name
