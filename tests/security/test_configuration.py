"""TLS files and tokens files as the settings name them (no mesh)."""

import argparse

import pytest

from services.runtime.settings import add_server_arguments, settings_from_args
from services.security.auth import BearerTokenAuth, read_tokens
from services.security.tls import load_tls


def _settings(argv: list[str], environ: dict[str, str]):
    parser = argparse.ArgumentParser()
    add_server_arguments(parser, "decoder")
    return settings_from_args(parser.parse_args(argv), environ)


def test_tls_is_off_unless_configured():
    assert load_tls(_settings([], {})) is None


def test_a_mounted_secret_folder_from_the_environment(certs):
    tls = load_tls(_settings([], {"UNCLIP_TLS_DIR": str(certs / "decoder")}))
    assert tls.cert == (certs / "decoder" / "tls.crt").read_bytes()
    assert tls.ca == (certs / "ca.pem").read_bytes()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--tls-cert", "a.pem"], "missing --tls-key, --tls-ca"),
        (["--tls-dir", "d", "--tls-ca", "ca.pem"], "--tls-dir excludes"),
        (["--tls-dir", "/nonexistent"], "cannot read"),
    ],
)
def test_incomplete_or_unreadable_tls_settings_are_refused(argv, message):
    with pytest.raises(ValueError, match=message):
        load_tls(_settings(argv, {}))


def test_tokens_file_skips_comments_and_blank_lines(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# ops\n  alpha  \n\nbeta\n")
    assert read_tokens(str(path)) == [b"alpha", b"beta"]
    path.write_text("# nothing\n")
    with pytest.raises(ValueError, match="holds no token"):
        read_tokens(str(path))


def test_only_exact_tokens_are_allowed():
    auth = BearerTokenAuth([b"alpha", b"beta"], "orchestrator")
    assert auth.allows(b"beta") and not auth.allows(b"bet") and not auth.allows(None)
