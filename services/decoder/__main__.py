"""`unclip-mesh serve decoder` / `python -m services.decoder decoder`."""

import sys

from services.decoder.stage import DecoderStage
from services.runtime.stage_main import serve_stage


def main(argv: list[str] | None = None) -> int:
    return serve_stage("decoder", argv, DecoderStage)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
