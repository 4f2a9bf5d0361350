"""The peer the mesh is measured against: diffusers' UnCLIPPipeline on the same diffusers-layout
folder and step counts, one image per call, on a thread pool, and all images in one call; and the
machine's cap those step counts allow."""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import diffusers.pipelines
import torch
from diffusers.pipelines.deprecated import unclip
from diffusers.pipelines.deprecated.unclip import UnCLIPPipeline


def load(folder: str) -> UnCLIPPipeline:
    # diffusers 0.42 moved unclip under deprecated/; Karlo's model_index.json still names the old module.
    diffusers.pipelines.unclip = unclip
    pipe = UnCLIPPipeline.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    # The fast tokenizer's padding settings are per-object state that concurrent calls race on (one
    # call's prompt came back padded to another's length); the prompt's encoding runs one at a time.
    encode, lock = pipe._encode_prompt, threading.Lock()

    def encode_alone(*args, **kwargs):
        with lock:
            return encode(*args, **kwargs)

    pipe._encode_prompt = encode_alone
    return pipe


def generate(pipe: UnCLIPPipeline, steps: int, seed: int, batch: int = 1) -> None:
    """`batch` images of "a red circle" in one call, `steps` steps in every stage."""
    pipe(
        "a red circle",
        num_images_per_prompt=batch,
        generator=torch.Generator().manual_seed(seed),
        prior_num_inference_steps=steps,
        decoder_num_inference_steps=steps,
        super_res_num_inference_steps=steps,
        output_type="np",
    )


def machine_cap(pipe: UnCLIPPipeline, steps: int, images: int = 3) -> float:
    """Images per second no server can exceed on this machine: its cores over the CPU seconds one image
    takes in process at one torch thread (the least work an image needs: no hops, no batching)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generate(pipe, steps, 0)  # warm-up
        started = time.process_time()
        for seed in range(1, images + 1):
            generate(pipe, steps, seed)
        return (os.cpu_count() or 1) * images / (time.process_time() - started)
    finally:
        torch.set_num_threads(threads)


def images_per_second(
    pipe: UnCLIPPipeline, steps: int, images: int, *, threads: int = 1, batch: int = 1
) -> float:
    """`images` images of "a red circle", `batch` per call, calls spread over `threads` threads."""

    def call(seed: int) -> None:
        generate(pipe, steps, seed, batch)

    call(0)  # warm-up
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(call, range(images // batch)))
    return images / (time.perf_counter() - started)


def peer_rows(folder: str, steps: int, images: int) -> list[tuple[str, float]]:
    pipe = load(folder)
    return [
        ("the machine's cap (cores / CPU seconds per image in process)", machine_cap(pipe, steps)),
        ("UnCLIPPipeline, sequential", images_per_second(pipe, steps, images)),
        ("UnCLIPPipeline, 4-thread pool", images_per_second(pipe, steps, images, threads=4)),
        (f"UnCLIPPipeline, {images} images per call", images_per_second(pipe, steps, images, batch=images)),
    ]
