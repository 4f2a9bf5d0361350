"""`unclip-mesh serve prior` / `python -m services.prior prior`."""

import sys

from services.prior.stage import PriorStage
from services.runtime.stage_main import serve_stage


def main(argv: list[str] | None = None) -> int:
    return serve_stage("prior", argv, PriorStage)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
