"""An upsampler stage (64->256 or 256->1024, by its name): UpsamplerModel behind the step batcher,
served as UpsamplerService."""

from services.runtime.diffusion_rpc import DiffusionStageService


class UpsamplerStage(DiffusionStageService):
    def load_model(self, bundle):
        from services.upsampler.model import UpsamplerModel

        return UpsamplerModel.load(bundle, self.stage, self.settings.device, self.compute_dtype)

    def servicer(self):
        from services.upsampler.servicer import UpsamplerServicer

        return UpsamplerServicer(self.holder)
