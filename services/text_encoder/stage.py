"""The text encoder stage: CLIP's text (and image) tower, served as TextEncoderService."""

from services.runtime.lifecycle import StageService
from services.runtime.settings import ServerSettings


class TextEncoderStage(StageService):
    def __init__(self, stage: str, settings: ServerSettings) -> None:
        from services.text_encoder.servicer import TextEncoderServicer

        super().__init__(stage, settings)
        self._servicer = TextEncoderServicer()

    def load(self) -> None:
        from services.bundle.loader import open_bundle
        from services.text_encoder.model import TextEncoderModel

        self._servicer.attach(
            TextEncoderModel.load(open_bundle(self.settings.bundle), self.settings.device, self.compute_dtype)
        )

    def servicer(self):
        return self._servicer
