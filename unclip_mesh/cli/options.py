"""Command-line options that several subcommands share."""

import os

from services.runtime.settings import DEFAULT_BUNDLE


def add_bundle_argument(parser) -> None:
    parser.add_argument(
        "--bundle",
        default=None,
        help="model bundle folder (default: UNCLIP_BUNDLE or the shipped demo bundle)",
    )


def bundle_path(args) -> str:
    return args.bundle or os.environ.get("UNCLIP_BUNDLE") or DEFAULT_BUNDLE
