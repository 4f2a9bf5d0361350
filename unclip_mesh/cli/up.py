"""`unclip-mesh up`: the whole mesh locally, each stage its own process, until Ctrl-C or SIGTERM.

The first signal stops the mesh from the front (LocalMesh.stop: the orchestrator finishes its
generations, then the stages stop); a second one kills what is still running.
"""

import signal
import sys
import threading

from services.runtime.settings import parse_stage_compute_dtypes
from unclip_mesh.cli.local_mesh import LocalMesh
from unclip_mesh.cli.options import add_bundle_argument, bundle_path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("up", help="run the whole mesh locally")
    add_bundle_argument(parser)
    parser.add_argument(
        "--stages", default=None, help="comma-separated stages to start (default: every stage the bundle has)"
    )
    parser.add_argument(
        "--replicas",
        action="append",
        default=[],
        metavar="STAGE=N",
        help="start N replicas of STAGE (repeatable)",
    )
    parser.add_argument("--orchestrator-port", type=int, default=50056)
    parser.add_argument(
        "--compute-dtype",
        action="append",
        default=[],
        metavar="[STAGE=]DTYPE",
        help="the stages' network dtype: float32 (default), bfloat16, or float16 "
        "(cuda only); STAGE=DTYPE sets one stage, later values win (repeatable)",
    )


def run(args) -> int:
    replicas = {stage: int(n) for stage, _, n in (item.partition("=") for item in args.replicas)}
    stages = tuple(args.stages.split(",")) if args.stages else None
    try:
        dtypes = parse_stage_compute_dtypes(args.compute_dtype)
    except ValueError as error:
        print(f"unclip-mesh up: {error}", file=sys.stderr)
        return 2
    mesh = LocalMesh(
        bundle_path(args),
        stages=stages,
        replicas=replicas,
        args_by_stage={stage: ("--compute-dtype", dtype) for stage, dtype in dtypes.items()},
        orchestrator_args=("--port", str(args.orchestrator_port)),
        echo_logs=True,
    )
    stop = threading.Event()

    def on_signal(*_) -> None:
        if stop.is_set():
            mesh.kill()
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    with mesh:
        print(f"unclip-mesh is up: GenerationService on {mesh.target} (Ctrl-C stops it)", flush=True)
        stop.wait()
        print(
            "stopping: the orchestrator finishes its generations, then the stages stop "
            "(Ctrl-C again kills them)...",
            flush=True,
        )
    return 0
