"""DecoderModel: CLIP image embedding (+ text) -> 64 px image, with a UNet2DConditionModel (GLIDE-style).

The UNet may work on folded pixels (services/decoder/folded_network.py); the model sees a 64 px network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel

from services.bundle.loader import Bundle
from services.decoder.folded_network import unfolded
from services.diffusion.compute_dtype import image_layout
from services.diffusion.stage_model import DiffusionStageModel
from services.diffusion.text import TextTensors, projection_widths
from services.diffusion.trajectory import Trajectory, batched_forward

STAGE = "decoder"
_KEYS = ("encoder_hidden_states", "class_labels", "attention_mask")


@dataclass
class DecoderJob:
    image_embedding: torch.Tensor  # [B, D] from the prior (or the text encoder's EncodeImage)
    text: TextTensors  # B rows
    unconditional: TextTensors  # 1 row (the empty prompt), expanded to B
    steps: int
    guidance_scale: float
    scheduler: str
    generator: torch.Generator  # CPU
    latents: torch.Tensor | None = None  # [B, 3, S, S] initial noise; drawn from `generator` when None
    eta: float = 0.0  # DDIM's stochasticity (0: deterministic)


class DecoderModel(DiffusionStageModel):
    """The decoder's DiffusionModel: start / denoise (one forward per batch) / finish."""

    def __init__(
        self,
        decoder: UNet2DConditionModel,
        text_proj: UnCLIPTextProjModel,
        bundle: Bundle,
        device: torch.device,
    ) -> None:
        super().__init__(bundle, STAGE, device)
        self.decoder = unfolded(decoder)
        self.text_proj = text_proj

    @classmethod
    def load(cls, bundle: Bundle, device: str = "cpu", dtype: torch.dtype = torch.float32) -> DecoderModel:
        bundle.verify(STAGE)
        decoder = bundle.load(
            STAGE, "decoder", lambda f: UNet2DConditionModel.from_pretrained(f, torch_dtype=dtype)
        )
        text_proj = bundle.load(
            STAGE, "text_proj", lambda f: UnCLIPTextProjModel.from_pretrained(f, torch_dtype=dtype)
        )
        decoder = decoder.to(device, memory_format=image_layout(dtype)).eval()
        return cls(decoder, text_proj.to(device).eval(), bundle, torch.device(device))

    @property
    def image_size(self) -> int:
        return self.decoder.config.sample_size

    @property
    def text_widths(self) -> dict[str, int]:
        """The widths of the text conditioning it takes: CLIP embedding and token states."""
        return projection_widths(self.text_proj)

    @property
    def dtype(self) -> torch.dtype:
        """The network's compute dtype; the latents are float32 (services/diffusion/compute_dtype.py)."""
        return self.decoder.dtype

    @torch.inference_mode()
    def start(self, job: DecoderJob) -> Trajectory:
        """Project the embeddings to the decoder's conditioning (text_proj, as UnCLIPPipeline does;
        the unguided half gets the learned null image embedding), then draw the initial noise."""
        rows = len(job.text)
        guided = job.guidance_scale > 1.0
        text = TextTensors.cat([job.unconditional.expand(rows), job.text]) if guided else job.text
        text = text.to(self.device, self.dtype)
        hidden_states, time_embeddings = self.text_proj(
            image_embeddings=job.image_embedding.to(self.device, self.dtype),
            prompt_embeds=text.text_embedding,
            text_encoder_hidden_states=text.token_states,
            do_classifier_free_guidance=guided,
        )
        mask = F.pad(text.attention_mask, (self.text_proj.clip_extra_context_tokens, 0), value=True)
        channels = self.decoder.config.in_channels
        return self.start_job(
            job,
            (rows, channels, self.image_size, self.image_size),
            job.guidance_scale,
            dict(zip(_KEYS, (hidden_states, time_embeddings, mask), strict=True)),
        )

    @torch.inference_mode()
    def predict(self, batch: list[Trajectory]) -> list[torch.Tensor]:
        """The network output of each trajectory's current step, from ONE forward for the batch."""

        def forward(sample, timesteps, **conditioning):
            return self.decoder(sample=sample, timestep=timesteps, **conditioning).sample

        return batched_forward(batch, _KEYS, forward, self.dtype, image_layout(self.dtype))

    @torch.inference_mode()
    def finish(self, trajectory: Trajectory) -> torch.Tensor:
        """The 64 px images [B, 3, S, S] in [-1, 1], float32 on CPU."""
        return trajectory.latents.clamp(-1, 1).float().cpu()
