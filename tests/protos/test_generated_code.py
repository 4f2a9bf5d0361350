import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_committed_code_matches_the_protos(tmp_path):
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "generate_protos.py"), str(tmp_path)], check=True, timeout=120
    )
    generated, committed = files(tmp_path / "unclip"), files(REPO / "unclip")
    assert generated.keys() == committed.keys(), "regenerate: python tools/generate_protos.py"
    stale = [name for name in generated if generated[name] != committed[name]]
    assert not stale, f"stale generated code {stale}; regenerate: python tools/generate_protos.py"
