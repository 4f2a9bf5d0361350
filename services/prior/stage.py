"""The prior stage: PriorModel behind the step batcher, served as PriorService."""

from services.runtime.diffusion_rpc import DiffusionStageService


class PriorStage(DiffusionStageService):
    def load_model(self, bundle):
        from services.prior.model import PriorModel

        return PriorModel.load(bundle, self.settings.device, self.compute_dtype)

    def servicer(self):
        from services.prior.servicer import PriorServicer

        return PriorServicer(self.holder)
