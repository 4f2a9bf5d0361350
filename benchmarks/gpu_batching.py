"""Step-level batching on a GPU at Karlo's sizes (random weights, fp16): the stages' batchers in one
process vs no batching vs diffusers' UnCLIPPipeline on the same weights.

Karlo's configs (kakaobrain/karlo-v1-alpha, as diffusers' conversion script defines them): prior =
PriorTransformer defaults; decoder = UNet2DConditionModel 64 px, blocks 320-640-960-1280, cross-attention
1536; super-res = UNet2DModel 256 px, blocks 320-640-960-1280 (first and last). Default steps 25/25/7,
guidance 4/8. Text encodings are random tensors of CLIP ViT-L/14's shapes on both sides (the text
encoder is a small share of the work and needs no sampling).

Each mode serves --clients concurrent clients, each making --requests requests, through one StepBatcher
per diffusion stage (prior -> decoder -> super-res): what the mesh's stage servers do, minus the gRPC
hops (measured separately by tensor_hop.py). Prints a table of images per second.

    python benchmarks/gpu_batching.py [--clients 16] [--requests 2] [--tiny]   (--tiny: CPU smoke run)
"""

import argparse
import asyncio
import time
from collections.abc import Callable
from types import SimpleNamespace

import torch
from diffusers import PriorTransformer, UnCLIPPipeline, UnCLIPScheduler, UNet2DConditionModel, UNet2DModel
from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel
from transformers.models.clip.modeling_clip import CLIPTextModelOutput

from services.bundle.manifest import SamplingDefaults
from services.decoder.model import DecoderJob, DecoderModel
from services.diffusion.text import TextTensors
from services.prior.model import PriorJob, PriorModel
from services.runtime.step_batcher import StepBatcher
from services.upsampler.model import UpsampleJob, UpsamplerModel

KARLO = {
    "prior": {},
    "decoder": dict(
        sample_size=64,
        layers_per_block=3,
        in_channels=3,
        out_channels=6,
        down_block_types=(
            "ResnetDownsampleBlock2D",
            "SimpleCrossAttnDownBlock2D",
            "SimpleCrossAttnDownBlock2D",
            "SimpleCrossAttnDownBlock2D",
        ),
        up_block_types=(
            "SimpleCrossAttnUpBlock2D",
            "SimpleCrossAttnUpBlock2D",
            "SimpleCrossAttnUpBlock2D",
            "ResnetUpsampleBlock2D",
        ),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        block_out_channels=(320, 640, 960, 1280),
        cross_attention_dim=1536,
        class_embed_type="identity",
        attention_head_dim=64,
        resnet_time_scale_shift="scale_shift",
    ),
    "super_res": dict(
        sample_size=256,
        layers_per_block=3,
        in_channels=6,
        out_channels=3,
        add_attention=False,
        down_block_types=("ResnetDownsampleBlock2D",) * 4,
        up_block_types=("ResnetUpsampleBlock2D",) * 4,
        block_out_channels=(320, 640, 960, 1280),
    ),
    "text_proj": dict(time_embed_dim=1280, cross_attention_dim=1536),
    "text": dict(width=768, length=77, embedding=768),
}
TINY = {
    "prior": dict(
        num_attention_heads=2, attention_head_dim=8, num_layers=2, embedding_dim=16, num_embeddings=8
    ),
    "decoder": dict(
        KARLO["decoder"],
        layers_per_block=1,
        block_out_channels=(16, 16, 32, 32),
        cross_attention_dim=16,
        attention_head_dim=8,
        norm_num_groups=8,
    ),
    "super_res": dict(
        KARLO["super_res"], layers_per_block=1, block_out_channels=(8, 8, 16, 16), norm_num_groups=8
    ),
    "text_proj": dict(time_embed_dim=64, cross_attention_dim=16, clip_embeddings_dim=16),
    "text": dict(width=16, length=8, embedding=16),
}
SCHEDULERS = {
    "prior": dict(variance_type="fixed_small_log", prediction_type="sample", clip_sample_range=5.0),
    "decoder": dict(variance_type="learned_range", prediction_type="epsilon", clip_sample_range=1.0),
    "super_res": dict(variance_type="fixed_small_log", prediction_type="epsilon", clip_sample_range=1.0),
}
DEFAULTS = {
    "prior": SamplingDefaults(25, 4.0),
    "decoder": SamplingDefaults(25, 8.0),
    "upsampler_256": SamplingDefaults(7),
}
CONFIG_OF = {"prior": "prior", "decoder": "decoder", "upsampler_256": "super_res"}


class InMemoryBundle:
    """What the stage models read from a bundle (scheduler configs, defaults), without files."""

    def scheduler_config(self, stage: str) -> dict:
        return UnCLIPScheduler(**SCHEDULERS[CONFIG_OF[stage]]).config

    def defaults(self, stage: str) -> SamplingDefaults:
        return DEFAULTS[stage]


def build(configs: dict, device: str, dtype: torch.dtype) -> SimpleNamespace:
    with torch.device(device):
        modules = SimpleNamespace(
            prior=PriorTransformer(**configs["prior"]),
            decoder=UNet2DConditionModel(**configs["decoder"]),
            text_proj=UnCLIPTextProjModel(**configs["text_proj"]),
            super_res=UNet2DModel(**configs["super_res"]),
        )
    for name in ("prior", "decoder", "text_proj", "super_res"):
        setattr(modules, name, getattr(modules, name).to(device, dtype).eval())
    modules.prior.clip_std.data.fill_(1.0)
    return modules


def random_text(configs: dict, rows: int, device: str, dtype: torch.dtype) -> TextTensors:
    shape = configs["text"]
    return TextTensors(
        torch.randn(rows, shape["embedding"], device=device, dtype=dtype),
        torch.randn(rows, shape["length"], shape["width"], device=device, dtype=dtype),
        torch.ones(rows, shape["length"], dtype=torch.bool, device=device),
    )


def stage_batchers(models: SimpleNamespace, max_batch: int, max_queue: int, join: str) -> dict:
    """One StepBatcher per diffusion stage, as each stage server has."""
    return {
        name: StepBatcher(model, max_batch, max_queue, join)
        for name, model in (
            ("prior", models.prior_model),
            ("decoder", models.decoder_model),
            ("upsampler_256", models.upsampler_model),
        )
    }


async def one_request(models: SimpleNamespace, batchers: dict, text: TextTensors, seed: int) -> None:
    """One 256 px image through the three stages' batchers at Karlo's default steps."""
    generator = torch.Generator().manual_seed(seed)
    unconditional = text
    embedding = await batchers["prior"].run(
        models.prior_model.start(PriorJob(text, unconditional, 25, 4.0, "unclip", generator))
    )
    image = await batchers["decoder"].run(
        models.decoder_model.start(DecoderJob(embedding, text, unconditional, 25, 8.0, "unclip", generator))
    )
    await batchers["upsampler_256"].run(
        models.upsampler_model.start(UpsampleJob(image, 7, "unclip", generator))
    )


async def serve_clients(
    models: SimpleNamespace, text: TextTensors, clients: int, requests: int, max_batch: int, join: str
) -> float:
    """Images per second with one StepBatcher per stage, `clients` concurrent request loops."""
    batchers = stage_batchers(models, max_batch, 4 * clients, join)

    async def one(seed: int) -> None:
        await one_request(models, batchers, text, seed)

    async def client(index: int) -> None:
        for n in range(requests):
            await one(index * 1000 + n)

    await one(0)  # warm-up
    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return clients * requests / (time.perf_counter() - started)


def karlo_pipeline(models: SimpleNamespace, configs: dict, text: TextTensors) -> Callable[[int], None]:
    """UnCLIPPipeline on the same weights: a function that makes `batch` images in one call."""

    class StandInTokenizer:
        model_max_length = configs["text"]["length"]

        def __call__(self, prompts, **_):
            ids = torch.zeros(len(prompts), self.model_max_length, dtype=torch.long)
            return SimpleNamespace(input_ids=ids, attention_mask=torch.ones_like(ids))

    class StandInTextEncoder(torch.nn.Module):
        device, dtype = text.text_embedding.device, text.text_embedding.dtype

        def forward(self, ids):
            rows = ids.shape[0]
            return CLIPTextModelOutput(
                text_embeds=text.text_embedding[:1].expand(rows, -1),
                last_hidden_state=text.token_states[:1].expand(rows, -1, -1),
            )

    pipe = UnCLIPPipeline(
        prior=models.prior,
        decoder=models.decoder,
        text_proj=models.text_proj,
        super_res_first=models.super_res,
        super_res_last=models.super_res,
        prior_scheduler=UnCLIPScheduler(**SCHEDULERS["prior"]),
        decoder_scheduler=UnCLIPScheduler(**SCHEDULERS["decoder"]),
        super_res_scheduler=UnCLIPScheduler(**SCHEDULERS["super_res"]),
        text_encoder=StandInTextEncoder(),
        tokenizer=StandInTokenizer(),
    )
    pipe.set_progress_bar_config(disable=True)

    def call(batch: int) -> None:
        pipe(
            text_model_output=(
                text.text_embedding[:1].expand(batch, -1),
                text.token_states[:1].expand(batch, -1, -1),
            ),
            text_attention_mask=text.attention_mask[:1].expand(batch, -1),
            generator=torch.Generator(device=text.text_embedding.device).manual_seed(0),
            output_type="pt",
        )
        synchronize()

    return call


def pipeline_images_per_second(
    models: SimpleNamespace, configs: dict, text: TextTensors, images: int, batch: int
) -> float:
    """UnCLIPPipeline on the same weights: `images` images, `batch` per call."""
    call = karlo_pipeline(models, configs, text)
    call(batch)  # warm-up
    started = time.perf_counter()
    for _ in range(images // batch):
        call(batch)
    return images / (time.perf_counter() - started)


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def setup(tiny: bool) -> tuple[dict, str, torch.dtype]:
    """Configs, device and dtype: Karlo's sizes in fp16 on the GPU, or tiny ones in fp32 on the CPU."""
    torch.backends.cuda.matmul.allow_tf32 = False
    return (TINY, "cpu", torch.float32) if tiny else (KARLO, "cuda", torch.float16)


def stage_models(configs: dict, device: str, dtype: torch.dtype) -> SimpleNamespace:
    """The random modules and the mesh's stage models around them."""
    modules = build(configs, device, dtype)
    bundle = InMemoryBundle()
    modules.prior_model = PriorModel(modules.prior, bundle, torch.device(device))
    modules.decoder_model = DecoderModel(modules.decoder, modules.text_proj, bundle, torch.device(device))
    modules.upsampler_model = UpsamplerModel(
        modules.super_res, modules.super_res, bundle, "upsampler_256", torch.device(device)
    )
    return modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2)
    parser.add_argument("--tiny", action="store_true", help="tiny configs on the CPU (a smoke run)")
    args = parser.parse_args()
    configs, device, dtype = setup(args.tiny)
    modules = stage_models(configs, device, dtype)
    text = random_text(configs, 1, device, dtype)
    images = args.clients * args.requests
    rows = [
        ("UnCLIPPipeline, one image per call", pipeline_images_per_second(modules, configs, text, images, 1)),
        (
            f"UnCLIPPipeline, {args.clients} images per call",
            pipeline_images_per_second(modules, configs, text, images, args.clients),
        ),
    ]
    for label, max_batch, join in (
        ("stage batchers, no batching", 1, "step"),
        ("stage batchers, request-level batching", args.clients, "request"),
        ("stage batchers, step-level batching", args.clients, "step"),
    ):
        rows.append(
            (label, asyncio.run(serve_clients(modules, text, args.clients, args.requests, max_batch, join)))
        )
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(
        f"{name}, {'tiny' if args.tiny else 'Karlo-sized'} random weights, {dtype}, 25/25/7 steps, "
        f"{args.clients} clients x {args.requests} requests, 256 px"
    )
    print("| mode | images/s | vs UnCLIPPipeline (1 per call) |")
    print("| --- | ---: | ---: |")
    for label, rate in rows:
        print(f"| {label} | {rate:.2f} | {rate / rows[0][1]:.1f}x |")


if __name__ == "__main__":
    main()
