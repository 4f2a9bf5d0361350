"""`unclip-mesh serve upsampler_256|upsampler_1024` / `python -m services.upsampler STAGE`.

One code base, two stages: the first argument picks the bundle's 64->256 or 256->1024 model.
"""

import sys

from services.runtime.stage_main import serve_stage
from services.stage_registry import upsamplers
from services.upsampler.stage import UpsamplerStage


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stage = argv[0] if argv and argv[0] in upsamplers() else upsamplers()[0]
    return serve_stage(stage, argv, UpsamplerStage)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
