"""`unclip-mesh bundle tiny OUT` writes a tiny random bundle (`tiny-karlo OUT`: in Karlo's layout);
`bundle verify DIR` checks one."""

from services.stage_registry import model_stages


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("bundle", help="write or check model bundles")
    actions = parser.add_subparsers(dest="action", required=True)
    tiny = actions.add_parser("tiny", help="write a tiny randomly initialised bundle (for tests)")
    tiny.add_argument("output")
    tiny.add_argument("--seed", type=int, default=0)
    karlo = actions.add_parser(
        "tiny-karlo", help="write a tiny random checkpoint in Karlo's diffusers layout"
    )
    karlo.add_argument("output")
    karlo.add_argument("--seed", type=int, default=0)
    karlo.add_argument(
        "--layout",
        default="combined",
        help="text-to-image or image-variations, as Karlo's two checkpoints are published, "
        "or combined: both in one folder (default)",
    )
    verify = actions.add_parser("verify", help="check every file and checksum of a bundle")
    verify.add_argument("path")


def run(args) -> int:
    from services.bundle.loader import BundleError, open_bundle
    from unclip_mesh.bundles.tiny import write_tiny_bundle
    from unclip_mesh.bundles.tiny_karlo import write_tiny_karlo

    if args.action in ("tiny", "tiny-karlo"):
        try:
            bundle = (
                write_tiny_bundle(args.output, seed=args.seed)
                if args.action == "tiny"
                else write_tiny_karlo(args.output, seed=args.seed, layout=args.layout)
            )
        except ValueError as error:  # an unknown layout
            print(f"error: {error}")
            return 1
        print(f"wrote {bundle.name} {bundle.version} to {args.output}")
        return 0
    try:
        bundle = open_bundle(args.path)
        for stage in model_stages():
            if bundle.has_stage(stage):
                bundle.verify(stage)
                print(f"{stage}: ok")
    except BundleError as error:
        print(f"error: {error}")
        return 1
    return 0
