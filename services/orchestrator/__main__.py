"""`unclip-mesh serve orchestrator --peer STAGE=host:port ...`: the public GenerationService."""

import sys

from services.runtime.stage_main import serve_stage
from unclip.v1 import generation_pb2, generation_pb2_grpc


def build(settings):
    from services.orchestrator.chain import GenerationChain
    from services.orchestrator.request_checks import RequestLimits
    from services.orchestrator.servicer import GenerationServicer
    from services.orchestrator.stage_clients import MeshClients
    from services.runtime.shared_memory import SharedMemory
    from services.security.tls import channel_credentials, load_tls

    tls = load_tls(settings)
    credentials = channel_credentials(tls) if tls else None

    def register(server) -> list[str]:
        clients = MeshClients(dict(settings.peers), settings.max_message_bytes, credentials)
        chain = GenerationChain(clients, RequestLimits(), SharedMemory.configured(settings.shared_memory_dir))
        generation_pb2_grpc.add_GenerationServiceServicer_to_server(GenerationServicer(chain), server)
        return [generation_pb2.DESCRIPTOR.services_by_name["GenerationService"].full_name]

    return None, register


def main(argv: list[str] | None = None) -> int:
    from services.security.auth import auth_interceptors

    return serve_stage("orchestrator", argv, build, auth_interceptors)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
