"""One warning line naming the prompt words the bundle never saw in training.

The bundle is the one the command's local mesh serves (--bundle, UNCLIP_BUNDLE or the demo bundle);
against --target without --bundle the served bundle is unknown here, and a bundle without a recorded
vocabulary (a published checkpoint) prints nothing.
"""

from __future__ import annotations

import sys

from services.bundle.loader import BundleError, open_bundle
from unclip_mesh.bundles.vocabulary import unknown_words
from unclip_mesh.cli.options import bundle_path


def warn_unknown_words(args, texts: list[str]) -> None:
    if args.target is not None and args.bundle is None:
        return
    try:
        manifest = open_bundle(bundle_path(args)).manifest
    except (BundleError, OSError):
        return  # the mesh reports a bundle it cannot open
    if manifest.vocabulary is None:
        return
    unknown = unknown_words(texts, manifest.vocabulary)
    if unknown:
        print(
            f"warning: bundle {manifest.name} never saw these words in training, so it cannot draw "
            f"them: {', '.join(unknown)}",
            file=sys.stderr,
        )
