"""`unclip-mesh serve decoder` / `python -m services.decoder decoder`."""

import sys

from services.runtime.diffusion_rpc import diffusion_stage_builder
from services.runtime.stage_main import serve_stage
from unclip.v1 import decoder_pb2, decoder_pb2_grpc


def _load(bundle, device):
    from services.decoder.model import DecoderModel

    return DecoderModel.load(bundle, device)


def _servicer(holder):
    from services.decoder.servicer import DecoderServicer

    return DecoderServicer(holder)


build = diffusion_stage_builder(
    "decoder", _load, _servicer, decoder_pb2_grpc.add_DecoderServiceServicer_to_server,
    decoder_pb2.DESCRIPTOR.services_by_name["DecoderService"].full_name)


def main(argv: list[str] | None = None) -> int:
    return serve_stage("decoder", argv, build)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
