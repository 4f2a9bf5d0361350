"""Write `unclip_bundle.json` for a bundle folder, checksumming every file each stage reads."""

from __future__ import annotations

from pathlib import Path

from services.bundle.loader import sha256_file
from services.bundle.manifest import MANIFEST_NAME, Manifest, SamplingDefaults, StageEntry


def write_manifest(
    bundle_dir: str | Path,
    *,
    name: str,
    version: str,
    stages: dict[str, dict[str, str]],
    defaults: dict[str, SamplingDefaults],
    vocabulary: tuple[str, ...] | None = None,
) -> Manifest:
    """Checksum all files under each stage's folders and write the manifest; returns it.

    stages: stage -> {role: sub-folder}; defaults: stage -> SamplingDefaults (diffusion stages);
    vocabulary: the words of the training captions, when known.
    """
    root = Path(bundle_dir)
    entries = {}
    for stage, folders in stages.items():
        files = {
            path.relative_to(root).as_posix(): sha256_file(path)
            for folder in folders.values()
            for path in sorted((root / folder).rglob("*"))
            if path.is_file()
        }
        entries[stage] = StageEntry(folders=dict(folders), defaults=defaults.get(stage), files=files)
    manifest = Manifest(name=name, version=version, stages=entries, vocabulary=vocabulary)
    (root / MANIFEST_NAME).write_text(manifest.to_json())
    return manifest
