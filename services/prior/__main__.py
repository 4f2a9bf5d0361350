"""`unclip-mesh serve prior` / `python -m services.prior prior`."""

import sys

from services.runtime.diffusion_rpc import diffusion_stage_builder
from services.runtime.stage_main import serve_stage
from unclip.v1 import prior_pb2, prior_pb2_grpc


def _load(bundle, device):
    from services.prior.model import PriorModel

    return PriorModel.load(bundle, device)


def _servicer(holder):
    from services.prior.servicer import PriorServicer

    return PriorServicer(holder)


build = diffusion_stage_builder(
    "prior", _load, _servicer, prior_pb2_grpc.add_PriorServiceServicer_to_server,
    prior_pb2.DESCRIPTOR.services_by_name["PriorService"].full_name)


def main(argv: list[str] | None = None) -> int:
    return serve_stage("prior", argv, build)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
