"""Step 1: contrastive CLIP training with open_clip on the world's captioned images.

The model config is registered with open_clip (add_model_config) and built by open_clip.create_model;
the output folder is the open_clip format the text encoder service loads (config + safetensors).
"""

from __future__ import annotations

import json
from pathlib import Path

import open_clip
import torch
import torchvision.transforms.v2.functional as TF
from open_clip.loss import ClipLoss
from safetensors.torch import save_file

from services.bundle.loader import OPEN_CLIP_CONFIG, OPEN_CLIP_WEIGHTS
from services.text_encoder.open_clip_backend import OpenClipBackend
from training import world
from training.cli import read_config
from training.loop import LoopConfig, train


def export(model: torch.nn.Module, model_config: dict, folder: Path) -> None:
    """Write an open_clip folder: open_clip_config.json + open_clip_model.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / OPEN_CLIP_CONFIG).write_text(json.dumps(model_config, indent=2) + "\n")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, folder / OPEN_CLIP_WEIGHTS)


def main(argv: list[str] | None = None) -> None:
    config, device = read_config(__doc__.splitlines()[0], argv)
    config_file = Path(config["model_config"])
    open_clip.add_model_config(config_file)
    model_config = json.loads(config_file.read_text())
    model = open_clip.create_model(config_file.stem, device=device)
    backend = OpenClipBackend(model, model_config)  # the service's tokenizer and preprocessing
    loss = ClipLoss()
    batch_size, image_size = config["batch_size"], backend.image_size
    shape_groups = config.get("shape_groups", False)

    def loss_fn(generator: torch.Generator) -> torch.Tensor:
        scenes = (
            world.sample_shape_groups(batch_size // 3, generator)
            if shape_groups
            else world.sample_scenes(batch_size, generator)
        )
        images = (world.render(scenes, image_size, device=device) + 1) / 2
        ids = backend.tokenize(world.captions(scenes, generator)).ids
        image_features = model.encode_image(TF.normalize(images, backend.mean, backend.std), normalize=True)
        text_features = model.encode_text(ids.to(device), normalize=True)
        return loss(image_features, text_features, model.logit_scale.exp())

    loop = LoopConfig.from_dict(config["loop"])
    trained = train(loop, {"clip": model}, loss_fn)["clip"]
    export(trained, model_config, loop.run_dir / "final" / "text_encoder")


if __name__ == "__main__":
    main()
