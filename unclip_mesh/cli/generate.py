"""`unclip-mesh generate "prompt" -o out.png`: against --target, or a local mesh started for the call."""

from unclip_mesh.cli.calls import add_call_options, call_and_write
from unclip_mesh.cli.unknown_words import warn_unknown_words


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="draw images for a prompt")
    parser.add_argument("prompt")
    add_call_options(parser)


def run(args) -> int:
    warn_unknown_words(args, [args.prompt])
    return call_and_write(
        args, lambda client, **options: client.generate(args.prompt, num_images=args.num_images, **options)
    )
