"""How far diffusers' UnCLIPPipeline moves its images when only the torch thread count changes: why the
mesh matches the reference only at equal thread counts (docs/API.md, "Seeds and reproducibility").

On the tiny Karlo-layout checkpoint (random weights, `unclip-mesh bundle tiny-karlo`), the pipeline's
default step counts (prior 25, decoder 25, super-res 7), one image per seed, each run at every thread
count; prints per seed and size the largest and the mean difference to the first thread count's image,
in 8-bit levels as the mesh rounds them, and how many of the image's values differ.

    python -m benchmarks.thread_drift --threads 1 2 --seeds 0 1 2 3
"""

import argparse
import tempfile

import numpy as np
import torch

from tests.karlo_reference import record, reference_pipeline
from unclip_mesh.bundles.tiny_karlo import write_tiny_karlo

PROMPT = "a red cube on a table"


def images(folder: str, seed: int, threads: int) -> dict[int, np.ndarray]:
    """The 64 px (decoder) and 256 px (super-res) images of one run, as 8-bit levels."""
    torch.set_num_threads(threads)
    pipe = reference_pipeline(folder)
    rec = record(pipe)
    final = pipe(PROMPT, generator=torch.Generator().manual_seed(seed), output_type="np").images
    return {
        size: (image[0] * 255).round().astype(int) for size, image in ((64, rec.image_64()), (256, final))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        write_tiny_karlo(folder)
        print(f"torch {torch.__version__}, {PROMPT!r}; differences to {args.threads[0]} thread(s)")
        print("| seed | threads | size | max levels | mean levels | values differing |")
        print("| --- | --- | --- | --- | --- | --- |")
        for seed in args.seeds:
            base = images(folder, seed, args.threads[0])
            for threads in args.threads[1:]:
                other = images(folder, seed, threads)
                for size in (64, 256):
                    difference = np.abs(other[size] - base[size])
                    print(
                        f"| {seed} | {threads} | {size} | {difference.max()} | {difference.mean():.4f} | "
                        f"{np.count_nonzero(difference)} of {difference.size} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
