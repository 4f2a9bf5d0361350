"""`unclip-mesh serve STAGE [flags]`: run one stage server or the HTTP gateway (flags: see
`serve STAGE --help`)."""

import argparse
import importlib

STAGE_MODULES = {
    "text_encoder": "services.text_encoder.__main__",
    "prior": "services.prior.__main__",
    "decoder": "services.decoder.__main__",
    "upsampler_256": "services.upsampler.__main__",
    "upsampler_1024": "services.upsampler.__main__",
    "orchestrator": "services.orchestrator.__main__",
    "gateway": "services.gateway.__main__",  # the OpenAI Images API over HTTP
}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run one stage server", add_help=False)
    parser.add_argument("stage", choices=sorted(STAGE_MODULES))
    parser.add_argument("flags", nargs=argparse.REMAINDER)


def run(args) -> int:
    module = importlib.import_module(STAGE_MODULES[args.stage])
    return module.main([args.stage, *args.flags])
