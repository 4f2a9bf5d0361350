"""`unclip-mesh serve text_encoder` / `python -m services.text_encoder text_encoder`."""

import sys

from services.runtime.stage_main import serve_stage
from services.text_encoder.stage import TextEncoderStage


def main(argv: list[str] | None = None) -> int:
    return serve_stage("text_encoder", argv, TextEncoderStage)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
