"""The decoder stage: DecoderModel behind the step batcher, served as DecoderService."""

from services.runtime.diffusion_rpc import DiffusionStageService


class DecoderStage(DiffusionStageService):
    def load_model(self, bundle):
        from services.decoder.model import DecoderModel

        return DecoderModel.load(bundle, self.settings.device, self.compute_dtype)

    def servicer(self):
        from services.decoder.servicer import DecoderServicer

        return DecoderServicer(self.holder)
