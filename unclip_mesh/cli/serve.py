"""`unclip-mesh serve STAGE [flags]`: run one stage server or the HTTP gateway (flags: see
`serve STAGE --help`)."""

import argparse
import importlib

from services import stage_registry


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run one stage server", add_help=False)
    parser.add_argument("stage", choices=sorted(stage_registry.names()))
    parser.add_argument("flags", nargs=argparse.REMAINDER)


def run(args) -> int:
    module = importlib.import_module(stage_registry.get(args.stage).module)
    return module.main([args.stage, *args.flags])
