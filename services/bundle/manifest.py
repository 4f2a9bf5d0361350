"""The `unclip_bundle.json` manifest: which stage reads which folders, default sampling, checksums.

    {
      "format": 1, "name": "tiny-random", "version": "0",
      "stages": {
        "prior": {
          "folders": {"prior": "prior", "scheduler": "prior_scheduler"},
          "defaults": {"num_inference_steps": 25, "guidance_scale": 4.0, "scheduler": "unclip",
                       "noise_level": 0},
          "files": {"prior/config.json": "<sha256>", "prior/diffusion_pytorch_model.safetensors": "..."}
        }, ...
      }
    }

`folders` maps a role the stage model knows (e.g. "scheduler") to a sub-folder; `files` maps every file
the stage reads (paths relative to the bundle, '/'-separated) to its sha256. An optional top-level
`"vocabulary": ["a", "red", ...]` lists every word of the captions the bundle was trained on; the command
line warns about prompt words outside it (unclip_mesh/bundles/vocabulary.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from services import scheduler_registry, stage_registry

MANIFEST_NAME = "unclip_bundle.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SamplingDefaults:
    num_inference_steps: int
    guidance_scale: float = 1.0
    scheduler: str = "unclip"
    noise_level: int = 0  # upsamplers only: noise-augmentation timestep of the low-res input

    def __post_init__(self) -> None:
        scheduler_registry.by_name(self.scheduler)  # raises ValueError naming the known ones


@dataclass(frozen=True)
class StageEntry:
    folders: dict[str, str]
    defaults: SamplingDefaults | None = None
    files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    stages: dict[str, StageEntry]
    format: int = FORMAT_VERSION
    vocabulary: tuple[str, ...] | None = None  # the training captions' words; None: not recorded

    def to_json(self) -> str:
        data = asdict(self)
        if self.vocabulary is None:
            del data["vocabulary"]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        stages = {}
        for stage, entry in data["stages"].items():
            if stage not in stage_registry.model_stages():
                raise ValueError(f"unknown stage {stage!r}")
            defaults = entry.get("defaults")
            stages[stage] = StageEntry(
                folders=dict(entry["folders"]),
                defaults=SamplingDefaults(**defaults) if defaults else None,
                files=dict(entry.get("files", {})),
            )
        vocabulary = data.get("vocabulary")
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            stages=stages,
            format=int(data.get("format", FORMAT_VERSION)),
            vocabulary=None if vocabulary is None else tuple(str(w) for w in vocabulary),
        )

    @classmethod
    def read(cls, path: Path) -> Manifest:
        return cls.from_dict(json.loads(path.read_text()))
