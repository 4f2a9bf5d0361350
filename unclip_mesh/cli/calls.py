"""What the subcommands that call GenerationService share: their options, the per-stage knobs, a local
mesh started for the call when no --target is given, progress bars, and writing the PNGs."""

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from services import scheduler_registry
from services.stage_registry import sampled_stages, sizes
from unclip_mesh.cli.options import add_bundle_argument, bundle_path


def add_call_options(parser, stages: tuple[str, ...] | None = None, *, images: bool = True) -> None:
    """-o, -n (when `images`), --size, --seed, --target, --token, --timeout, --bundle and, for each of
    `stages` (default: every stage that takes knobs), --STAGE-steps/-guidance/-scheduler/-eta."""
    stages = sampled_stages() if stages is None else stages
    parser.add_argument(
        "-o",
        "--output",
        default="out.png",
        help="PNG path; with several images, -0, -1, ... is added before the suffix",
    )
    if images:
        parser.add_argument("-n", "--num-images", type=int, default=1)
    parser.add_argument(
        "--size",
        type=int,
        choices=sizes(),
        default=None,
        help="output side in pixels (default: the largest the mesh serves)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--target",
        default=None,
        help="orchestrator address; without it a local mesh is started for this call",
    )
    parser.add_argument("--token", default=None, help="bearer token for the orchestrator")
    parser.add_argument("--timeout", type=float, default=None, help="deadline in seconds")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch threads of each stage process of the local mesh (default: "
        "UNCLIP_TORCH_THREADS, else torch's default); results match another run, "
        "or diffusers' pipelines, only at equal thread counts",
    )
    for stage in stages:
        flag = stage.replace("_", "-")
        parser.add_argument(f"--{flag}-steps", type=int, default=None)
        parser.add_argument(f"--{flag}-guidance", type=float, default=None)
        parser.add_argument(f"--{flag}-scheduler", choices=scheduler_registry.NAMES)
        parser.add_argument(f"--{flag}-eta", type=float, default=None, help="DDIM only")
    parser.set_defaults(stage_knobs=stages)
    add_bundle_argument(parser)


def output_paths(output: str, count: int) -> list[Path]:
    path = Path(output)
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(count)]


def stage_knobs(args) -> dict:
    """The Sampling of each stage whose knobs were given on the command line."""
    from unclip_mesh.client.sdk import Sampling

    stages = {}
    for stage in args.stage_knobs:
        knobs = Sampling(
            *(getattr(args, f"{stage}_{knob}") for knob in ("steps", "guidance", "scheduler", "eta"))
        )
        if knobs != Sampling():
            stages[stage] = knobs
    return stages


def call_and_write(args, call: Callable) -> int:
    """call(client, **options) -> Generation, against --target or a local mesh; writes the PNGs.
    A failed call is one line on stderr (status and details) and exit status 1."""
    import grpc

    try:
        result = _call(args, call)
    except grpc.RpcError as error:
        print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    for path, png in zip(output_paths(args.output, len(result.png_images)), result.png_images, strict=True):
        path.write_bytes(png)
        print(f"wrote {path} ({result.size}x{result.size}, seed {result.seed})")
    return 0


def _call(args, call: Callable):
    from unclip_mesh.cli.progress import ProgressBars
    from unclip_mesh.client.sdk import GenerationClient

    with contextlib.ExitStack() as stack:
        target = args.target
        if target is None:
            from unclip_mesh.cli.local_mesh import LocalMesh

            print("starting a local mesh...", flush=True)
            threads = () if args.torch_threads is None else ("--torch-threads", str(args.torch_threads))
            target = stack.enter_context(LocalMesh(bundle_path(args), stage_args=threads)).target
        client = stack.enter_context(GenerationClient(target, token=args.token))
        bars = stack.enter_context(ProgressBars())
        return call(
            client,
            size=args.size,
            seed=args.seed,
            stages=stage_knobs(args),
            timeout=args.timeout,
            on_event=bars.update,
        )
