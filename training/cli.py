"""The command line every training step shares: `python -m training.<step> --config FILE [--device D]`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def read_config(description: str, argv: list[str] | None = None) -> tuple[dict, torch.device]:
    """Parse --config (JSON), --device (auto|cpu|cuda, overrides the config's `device`) and --max-minutes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--device", default=None, help="auto | cpu | cuda (default: the config's, else auto)")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop at a checkpoint after this long (resume by running again)",
    )
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text())
    if args.max_minutes is not None:
        config["loop"]["max_minutes"] = args.max_minutes
    name = args.device or config.get("device", "auto")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    threads = int(config.get("torch_threads", 0))
    if threads:
        torch.set_num_threads(threads)
    return config, torch.device(name)
