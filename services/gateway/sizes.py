"""The Images API's sizes on the mesh's cascade.

256x256 and 1024x1024 are the cascade's own outputs. 512x512 has no stage of its own: it is the
1024 px result downscaled (Lanczos), so it costs what a 1024 px image costs (docs/API.md).
"""

import io

from PIL import Image

# API size -> (the mesh size drawn, the side returned)
SIZES = {"256x256": (256, 256), "512x512": (1024, 512), "1024x1024": (1024, 1024)}


def fit(png: bytes, side: int) -> bytes:
    """The PNG at side x side: the mesh's own bytes when it already is, else resized (Lanczos)."""
    with Image.open(io.BytesIO(png)) as image:
        if image.size == (side, side):
            return png
        resized = image.convert("RGB").resize((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    resized.save(out, format="PNG")
    return out.getvalue()
