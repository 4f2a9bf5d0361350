"""The model flags `triton serve` and `triton export` share: which network, and how Triton batches it."""

import argparse


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("stage", help="the stage whose network Triton hosts (decoder)")
    parser.add_argument("--bundle", required=True, help="model bundle folder")
    parser.add_argument("--model-name", help="Triton model name (default: the stage's name)")
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="model instances, each its own copy of the network (default 1)",
    )
    parser.add_argument(
        "--max-batch-size", type=int, default=64, help="most rows Triton runs in one forward (default 64)"
    )
    parser.add_argument(
        "--max-queue-delay-us",
        type=int,
        default=2000,
        help="how long Triton's dynamic batcher waits to fill a batch (default 2000)",
    )
