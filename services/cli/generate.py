"""`unclip-mesh generate "prompt" -o out.png`: against --target, or a local mesh started for the call."""

import contextlib
from pathlib import Path

from services.cli.options import add_bundle_argument, bundle_path
from services.cli.progress import ProgressBars

STAGE_KNOBS = ("prior", "decoder", "upsampler_256", "upsampler_1024")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="draw images for a prompt")
    parser.add_argument("prompt")
    parser.add_argument("-o", "--output", default="out.png",
                        help="PNG path; with several images, -0, -1, ... is added before the suffix")
    parser.add_argument("-n", "--num-images", type=int, default=1)
    parser.add_argument("--size", type=int, choices=(64, 256, 1024), default=None,
                        help="output side in pixels (default: the largest the mesh serves)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--target", default=None,
                        help="orchestrator address; without it a local mesh is started for this call")
    parser.add_argument("--token", default=None, help="bearer token for the orchestrator")
    parser.add_argument("--timeout", type=float, default=None, help="deadline in seconds")
    for stage in STAGE_KNOBS:
        flag = stage.replace("_", "-")
        parser.add_argument(f"--{flag}-steps", type=int, default=None)
        parser.add_argument(f"--{flag}-guidance", type=float, default=None)
        parser.add_argument(f"--{flag}-scheduler", choices=("unclip", "ddpm", "ddim", "dpm_solver_pp"))
    add_bundle_argument(parser)


def output_paths(output: str, count: int) -> list[Path]:
    path = Path(output)
    if count == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{i}{path.suffix}") for i in range(count)]


def run(args) -> int:
    from services.client.sdk import GenerationClient, Sampling

    stages = {}
    for stage in STAGE_KNOBS:
        knobs = Sampling(getattr(args, f"{stage}_steps"), getattr(args, f"{stage}_guidance"),
                         getattr(args, f"{stage}_scheduler"))
        if knobs != Sampling():
            stages[stage] = knobs
    with contextlib.ExitStack() as stack:
        target = args.target
        if target is None:
            from services.cli.local_mesh import LocalMesh

            print("starting a local mesh...", flush=True)
            target = stack.enter_context(LocalMesh(bundle_path(args))).target
        client = stack.enter_context(GenerationClient(target, token=args.token))
        bars = stack.enter_context(ProgressBars())
        result = client.generate(args.prompt, num_images=args.num_images, size=args.size,
                                 seed=args.seed, stages=stages, timeout=args.timeout,
                                 on_event=bars.update)
    for path, png in zip(output_paths(args.output, len(result.png_images)), result.png_images):
        path.write_bytes(png)
        print(f"wrote {path} ({result.size}x{result.size}, seed {result.seed})")
    return 0
