"""`unclip-mesh triton serve|export STAGE`: a stage's network in NVIDIA Triton Inference Server.

`serve` hosts it in a real Triton server through PyTriton, under the Triton venv's interpreter
(scripts/triton-venv.sh builds .venv-triton; UNCLIP_TRITON_PYTHON names another). `export` writes
a model repository (config.pbtxt + Python-backend model) for a Triton you run yourself.
"""

import argparse
import os
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_TRITON_PYTHON = REPOSITORY / ".venv-triton" / "bin" / "python"


def add_parser(subparsers) -> None:
    from services.triton.options import add_model_arguments

    parser = subparsers.add_parser("triton", help="host a stage's network in Triton Inference Server")
    commands = parser.add_subparsers(dest="triton_command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve", add_help=False, help="host STAGE's network in Triton (PyTriton); see serve STAGE --help"
    )
    serve.add_argument("stage")
    serve.add_argument("flags", nargs=argparse.REMAINDER)
    export = commands.add_parser("export", help="write STAGE's network as a Triton model repository")
    add_model_arguments(export)
    export.add_argument("out", help="the model repository folder (created if missing)")
    export.add_argument(
        "--kind", choices=("cpu", "gpu"), default="cpu", help="instance group kind (default cpu)"
    )


def run(args) -> int:
    if args.triton_command == "export":
        from services.triton.export import export_repository

        print(
            export_repository(
                args.stage,
                args.bundle,
                args.out,
                model_name=args.model_name,
                max_batch_size=args.max_batch_size,
                max_queue_delay_us=args.max_queue_delay_us,
                instances=args.instances,
                kind=args.kind,
            )
        )
        return 0
    python = os.environ.get("UNCLIP_TRITON_PYTHON") or str(DEFAULT_TRITON_PYTHON)
    if not Path(python).is_file():
        print(
            f"unclip-mesh triton serve: no Triton interpreter at {python}; build it with "
            "scripts/triton-venv.sh or set UNCLIP_TRITON_PYTHON",
            file=sys.stderr,
        )
        return 2
    path = os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))
    os.execve(
        python,
        [python, "-m", "services.triton.host", args.stage, *args.flags],
        {**os.environ, "PYTHONPATH": path},
    )
