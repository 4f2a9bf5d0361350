"""`unclip-mesh serve upsampler_256|upsampler_1024` / `python -m services.upsampler STAGE`.

One code base, two stages: the first argument picks the bundle's 64->256 or 256->1024 model.
"""

import sys

from services.runtime.diffusion_rpc import diffusion_stage_builder
from services.runtime.stage_main import serve_stage
from services.stage_registry import upsamplers
from unclip.v1 import upsampler_pb2, upsampler_pb2_grpc


def _servicer(holder):
    from services.upsampler.servicer import UpsamplerServicer

    return UpsamplerServicer(holder)


def build_for(stage: str):
    def load(bundle, device):
        from services.upsampler.model import UpsamplerModel

        return UpsamplerModel.load(bundle, stage, device)

    return diffusion_stage_builder(
        stage, load, _servicer, upsampler_pb2_grpc.add_UpsamplerServiceServicer_to_server,
        upsampler_pb2.DESCRIPTOR.services_by_name["UpsamplerService"].full_name)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stage = argv[0] if argv and argv[0] in upsamplers() else upsamplers()[0]
    return serve_stage(stage, argv, build_for(stage))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
