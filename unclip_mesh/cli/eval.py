"""`unclip-mesh eval`: held-out-prompt metrics of a bundle, a report and a contact sheet (in process).

The metrics need the world the demo bundle was trained on, so this command runs from a source checkout
(it imports training/, which the services never import otherwise).
"""

import argparse
import json
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="measure a bundle on held-out prompts (report + contact sheet)"
    )
    parser.add_argument("--bundle", type=Path, default=Path("models/demo"))
    parser.add_argument(
        "--out", type=Path, default=Path("docs"), help="folder for eval_report.json and contact_sheet.png"
    )
    parser.add_argument("--seeds", type=int, default=2, help="images per held-out prompt")
    parser.add_argument(
        "--sweep", type=str, default="", help="decoder guidance values to compare, e.g. 1,2,4"
    )


def run(args: argparse.Namespace) -> int:
    from training.evaluation import evaluate  # heavy and checkout-only: imported when the command runs

    sweep = [float(v) for v in args.sweep.split(",") if v]
    report = evaluate(args.bundle, args.out, list(range(args.seeds)), sweep)
    print(json.dumps(report, indent=2))
    return 0
