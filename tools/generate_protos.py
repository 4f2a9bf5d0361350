"""Regenerates the committed Python code of the wire contract (protos/ -> unclip/v1/).

Run from anywhere: `python tools/generate_protos.py [OUT_DIR]`. The tests run it into a temporary
folder and diff the result against the committed files, so a proto change without regeneration fails.
"""

import pathlib
import sys

from grpc_tools import protoc

REPO = pathlib.Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "protos"


def generate(out_dir: pathlib.Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package in {pathlib.Path(p).parent for p in protos}:
        for level in (package, *package.parents[:-1]):
            (out_dir / level / "__init__.py").touch()


if __name__ == "__main__":
    generate(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else REPO)
