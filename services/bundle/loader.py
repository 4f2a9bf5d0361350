"""Open a bundle folder, check its files, and load its components with one-line errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from services import stage_registry
from services.bundle.manifest import MANIFEST_NAME, Manifest, SamplingDefaults, StageEntry

T = TypeVar("T")

WEIGHT_NAMES = (
    "diffusion_pytorch_model.safetensors",
    "model.safetensors",
    "diffusion_pytorch_model.bin",
    "pytorch_model.bin",
)
TRANSFORMERS_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
TRANSFORMERS_ROLES = ("text_encoder", "image_encoder")  # CLIP towers saved by transformers
OPEN_CLIP_CONFIG = "open_clip_config.json"
OPEN_CLIP_WEIGHTS = "open_clip_model.safetensors"
TOKENIZER_CONFIG = "tokenizer_config.json"
TOKENIZER_JSON = "tokenizer.json"
BPE_FILES = ("vocab.json", "merges.txt")
FEATURE_EXTRACTOR_CONFIG = "preprocessor_config.json"
_CHUNK = 1 << 20


class BundleError(Exception):
    """A bundle problem; the message is one line naming the offending file or stage."""


class StageUnavailable(BundleError):
    """The bundle has no folders for this stage (e.g. upsampler_1024 in a diffusers layout)."""


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def required_files(folder: Path, role: str) -> list[Path]:
    """The files a component folder cannot be loaded without (its config and weights)."""
    if role == "scheduler":
        return [folder / "scheduler_config.json"]
    if role == "tokenizer":
        if (folder / TOKENIZER_JSON).exists():
            return [folder / TOKENIZER_CONFIG, folder / TOKENIZER_JSON]
        return [folder / TOKENIZER_CONFIG, *(folder / n for n in BPE_FILES)]
    if role == "feature_extractor":
        return [folder / FEATURE_EXTRACTOR_CONFIG]
    if (folder / OPEN_CLIP_CONFIG).exists():
        return [folder / OPEN_CLIP_CONFIG, folder / OPEN_CLIP_WEIGHTS]
    names = TRANSFORMERS_WEIGHTS if role in TRANSFORMERS_ROLES else WEIGHT_NAMES
    return [folder / "config.json", weights_file(folder, names)]


def weights_file(folder: Path, names: tuple[str, ...] = WEIGHT_NAMES) -> Path:
    """The folder's weights file, in `names`' order of preference (the first name if none exists)."""
    return next((folder / n for n in names if (folder / n).exists()), folder / names[0])


def _text_encoder_folders(root: Path) -> dict[str, str]:
    """text_encoder/, its tokenizer/ (required in transformers' format), and image_encoder/ +
    feature_extractor/ when the folder also serves variations (UnCLIPImageVariationPipeline's layout)."""
    folders = {"text_encoder": "text_encoder"}
    if (root / "tokenizer").is_dir() or not (root / "text_encoder" / OPEN_CLIP_CONFIG).is_file():
        folders["tokenizer"] = "tokenizer"
    if (root / "image_encoder").is_dir():
        folders |= {"image_encoder": "image_encoder", "feature_extractor": "feature_extractor"}
    return folders


def _diffusers_layout(root: Path) -> Manifest:
    """A manifest for a folder in diffusers' unCLIP layout (model_index.json, no unclip_bundle.json).

    A stage is served when its first folder exists; Bundle.verify names any other file it lacks."""
    stages = {}
    for stage in map(stage_registry.get, stage_registry.model_stages()):
        folders = _text_encoder_folders(root) if stage.name == "text_encoder" else dict(stage.folders)
        if not (root / next(iter(folders.values()))).is_dir():
            continue
        if "last" in folders and not (root / folders["last"]).is_dir():
            del folders["last"]  # super_res_first then runs every step
        # diffusers' UnCLIPPipeline's defaults: the folder carries no manifest
        defaults = SamplingDefaults(**stage.pipeline_defaults) if stage.sampled else None
        stages[stage.name] = StageEntry(folders=folders, defaults=defaults)
    return Manifest(name=root.name, version="diffusers", stages=stages)


class Bundle:
    """A bundle folder: stage folders, default sampling, checksum verification, component loading."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    def has_stage(self, stage: str) -> bool:
        return stage in self.manifest.stages

    def _entry(self, stage: str) -> StageEntry:
        try:
            return self.manifest.stages[stage]
        except KeyError:
            raise StageUnavailable(f"{stage} is not available in bundle {self.name}") from None

    def roles(self, stage: str) -> set[str]:
        return set(self._entry(stage).folders)

    def stage_dir(self, stage: str, role: str | None = None) -> Path:
        """The folder of `stage` for `role` (default: the stage's first folder)."""
        folders = self._entry(stage).folders
        if role is None:
            return self.root / next(iter(folders.values()))
        if role not in folders:
            raise BundleError(f"{stage}: bundle {self.name} has no {role} folder")
        return self.root / folders[role]

    def defaults(self, stage: str) -> SamplingDefaults:
        defaults = self._entry(stage).defaults
        if defaults is None:
            raise BundleError(f"{stage}: bundle {self.name} has no sampling defaults for this stage")
        return defaults

    def scheduler_config(self, stage: str) -> dict:
        path = self.stage_dir(stage, "scheduler") / "scheduler_config.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise BundleError(f"{self._rel(path)}: {one_line(error)}") from None

    def verify(self, stage: str) -> None:
        """Every file `stage` needs exists and matches the manifest's sha256; else BundleError."""
        entry = self._entry(stage)
        for role, folder in entry.folders.items():
            for path in required_files(self.root / folder, role):
                if not path.is_file():
                    raise BundleError(f"{self._rel(path)}: missing")
        for rel, expected in sorted(entry.files.items()):
            path = self.root / rel
            if not path.is_file():
                raise BundleError(f"{rel}: missing")
            actual = sha256_file(path)
            if actual != expected:
                raise BundleError(
                    f"{rel}: sha256 mismatch (manifest {expected[:12]}..., file {actual[:12]}...)"
                )

    def load(self, stage: str, role: str, loader: Callable[[Path], T]) -> T:
        """`loader(folder)`, with any failure turned into a BundleError naming the weights file."""
        folder = self.stage_dir(stage, role)
        try:
            return loader(folder)
        except BundleError:
            raise
        except Exception as error:  # every load failure is a bundle problem
            files = required_files(folder, role)
            named = files[-1] if files else folder
            raise BundleError(f"{self._rel(named)}: cannot load: {one_line(error)}") from error

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def open_bundle(path: str | Path) -> Bundle:
    """Open a bundle folder: ours (unclip_bundle.json) or diffusers' unCLIP layout (model_index.json)."""
    root = Path(path)
    manifest_path = root / MANIFEST_NAME
    if manifest_path.is_file():
        try:
            return Bundle(root, Manifest.read(manifest_path))
        except (ValueError, KeyError, TypeError) as error:
            raise BundleError(f"{MANIFEST_NAME}: invalid manifest: {one_line(error)}") from None
    if (root / "model_index.json").is_file():
        return Bundle(root, _diffusers_layout(root))
    raise BundleError(f"{root}: not a bundle (no {MANIFEST_NAME} or model_index.json)")
