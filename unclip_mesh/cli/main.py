"""`unclip-mesh`: one console script, one module per subcommand.

Each subcommand module exposes `add_parser(subparsers)` and `run(args) -> int`; modules import their
heavy dependencies (torch, models) inside `run`, so `unclip-mesh generate --target ...` starts fast.
"""

import argparse
import importlib
import sys

SUBCOMMANDS = ("serve", "up", "generate", "flows", "bundle", "deploy", "eval", "certs", "triton")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unclip-mesh", description="DALL-E 2 (unCLIP) served as a mesh of gRPC services."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"unclip_mesh.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"unclip_mesh.cli.{name}":
                raise
            continue
        before = set(subparsers.choices)
        module.add_parser(subparsers)
        for added in set(subparsers.choices) - before:
            subparsers.choices[added].set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
