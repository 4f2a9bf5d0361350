"""TextEncoderService: protos <-> TextEncoderModel calls."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import torch

from services.runtime.errors import InvalidArgument, Unavailable, grpc_errors
from services.runtime.tensor_codec import from_proto, to_proto
from services.text_encoder.model import TextEncoderModel
from services.text_encoder.wire import to_wire
from unclip.v1 import text_encoder_pb2, text_encoder_pb2_grpc

MAX_PROMPTS = 64
MAX_PROMPT_CHARS = 4000
MAX_IMAGES = 16
MAX_IMAGE_SIDE = 4096


class TextEncoderServicer(text_encoder_pb2_grpc.TextEncoderServiceServicer):
    """Model calls run one at a time on a worker thread, off the event loop."""

    def __init__(self) -> None:
        self.model: TextEncoderModel | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="text-encoder")

    def attach(self, model: TextEncoderModel) -> None:
        model.unconditional()  # computed once, before the stage reports SERVING
        self.model = model

    async def _call(self, function, *args):
        if self.model is None:
            raise Unavailable("text_encoder", "the model is still loading")
        return await asyncio.get_running_loop().run_in_executor(self._worker, function, *args)

    @grpc_errors
    async def EncodeText(self, request, context):
        prompts = list(request.prompts)
        if not 1 <= len(prompts) <= MAX_PROMPTS:
            raise InvalidArgument("prompts", f"must hold 1 to {MAX_PROMPTS} prompts")
        for index, prompt in enumerate(prompts):
            if len(prompt) > MAX_PROMPT_CHARS:
                raise InvalidArgument(f"prompts[{index}]", f"must be at most {MAX_PROMPT_CHARS} characters")
        encoding, truncated = await self._call(self.model.encode_text, prompts)
        return text_encoder_pb2.EncodeTextResponse(
            prompts=to_wire(encoding), unconditional=to_wire(self.model.unconditional()), truncated=truncated
        )

    @grpc_errors
    async def EncodeImage(self, request, context):
        images = from_proto(request.images, "images", dtypes={torch.uint8}, shape=(None, None, None, 3))
        count, height, width, _ = images.shape
        if not 1 <= count <= MAX_IMAGES:
            raise InvalidArgument("images", f"must hold 1 to {MAX_IMAGES} images")
        if not (1 <= height <= MAX_IMAGE_SIDE and 1 <= width <= MAX_IMAGE_SIDE):
            raise InvalidArgument("images", f"sides must be 1 to {MAX_IMAGE_SIDE} pixels")
        embeddings = await self._call(self.model.encode_image, images)
        return text_encoder_pb2.EncodeImageResponse(image_embeddings=to_proto(embeddings))
