"""`unclip-mesh serve text_encoder` / `python -m services.text_encoder text_encoder`."""

import sys

from services.runtime.stage_main import serve_stage
from unclip.v1 import text_encoder_pb2, text_encoder_pb2_grpc

STAGE = "text_encoder"


def build(settings):
    from services.bundle.loader import open_bundle
    from services.text_encoder.model import TextEncoderModel
    from services.text_encoder.servicer import TextEncoderServicer

    servicer = TextEncoderServicer()

    def register(server) -> list[str]:
        text_encoder_pb2_grpc.add_TextEncoderServiceServicer_to_server(servicer, server)
        return [text_encoder_pb2.DESCRIPTOR.services_by_name["TextEncoderService"].full_name]

    def load() -> None:
        servicer.attach(TextEncoderModel.load(open_bundle(settings.bundle), settings.device))

    return load, register


def main(argv: list[str] | None = None) -> int:
    return serve_stage(STAGE, argv, build)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
