"""The orchestrator: GenerationService over clients of the model stages; nothing to load."""

from services.runtime.lifecycle import StageService


class OrchestratorStage(StageService):
    def servicer(self):
        from services.orchestrator.chain import GenerationChain
        from services.orchestrator.request_checks import RequestLimits
        from services.orchestrator.servicer import GenerationServicer
        from services.orchestrator.stage_clients import MeshClients
        from services.runtime.shared_memory import SharedMemory
        from services.security.tls import channel_credentials, load_tls

        settings = self.settings
        tls = load_tls(settings)
        clients = MeshClients(
            dict(settings.peers), settings.max_message_bytes, channel_credentials(tls) if tls else None
        )
        chain = GenerationChain(clients, RequestLimits(), SharedMemory.configured(settings.shared_memory_dir))
        return GenerationServicer(chain)

    def interceptors(self):
        from services.security.auth import auth_interceptors

        return auth_interceptors(self.settings)
