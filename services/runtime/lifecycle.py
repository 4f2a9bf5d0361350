"""One lifecycle for every stage, the orchestrator included, in the spirit of KServe's Model.

A StageService is made from the stage's name and settings (cheap: nothing is loaded); the server calls
`register(server)` to add its servicer, then `load()` in a worker thread while health checks say
NOT_SERVING, and turns SERVING once it returns (services/runtime/server.py). `interceptors()` are the
stage's own server interceptors (the orchestrator's authentication).
"""

from __future__ import annotations

import grpc

from services import stage_registry
from services.runtime.settings import ServerSettings


class StageService:
    """A stage's model and servicer; subclasses say how to load the one and make the other."""

    def __init__(self, stage: str, settings: ServerSettings) -> None:
        self.stage = stage
        self.settings = settings

    def load(self) -> None:
        """Reads the model (blocking; runs in a worker thread). Nothing to load by default."""

    @property
    def compute_dtype(self):
        """The torch dtype of --compute-dtype, that a model stage loads its networks in."""
        from services.diffusion.compute_dtype import compute_dtype

        return compute_dtype(self.settings.compute_dtype)

    def servicer(self) -> object:
        raise NotImplementedError

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        return []

    def register(self, server: grpc.aio.Server) -> list[str]:
        """Adds the stage's servicer under its registered gRPC service; the services' full names."""
        service = stage_registry.get(self.stage).service
        if service is None:
            raise ValueError(f"stage {self.stage!r} serves no gRPC service")
        service.add_to_server(self.servicer(), server)
        return [service.full_name]
