"""`unclip-mesh vary | interpolate | edit | inpaint`: the image flows of GenerationService from the
command line, with generate's options (docs/API.md describes each flow)."""

from pathlib import Path

from services.stage_registry import sampled_stages, upsamplers
from unclip_mesh.cli.calls import add_call_options, call_and_write
from unclip_mesh.cli.unknown_words import warn_unknown_words


def _image_or_prompt(value: str) -> bytes | str:
    """An existing file is an image; anything else is a prompt."""
    path = Path(value)
    return path.read_bytes() if path.is_file() else value


def _prompts(args) -> list[str]:
    """The flow's texts: an edit's two captions, an inpainting's prompt, an interpolation's prompt ends."""
    if args.flow == "interpolate":
        return [v for v in (args.start, args.end) if not Path(v).is_file()]
    if args.flow == "edit":
        return [args.instruction, args.original_caption]
    return [args.prompt] if args.flow == "inpaint" else []


def add_parser(subparsers) -> None:
    vary = subparsers.add_parser("vary", help="variations of an image")
    vary.add_argument("image", type=Path, help="PNG or JPEG")
    vary.add_argument(
        "--eta",
        type=float,
        default=None,
        help="0..1: vary around the image's inverted noise (the paper's variations)",
    )
    add_call_options(vary, ("decoder", *upsamplers()))
    vary.set_defaults(flow="vary")

    interpolate = subparsers.add_parser("interpolate", help="a strip of images from one end to the other")
    interpolate.add_argument("start", help="an image file or a prompt")
    interpolate.add_argument("end", help="an image file or a prompt")
    add_call_options(interpolate, sampled_stages())
    interpolate.set_defaults(flow="interpolate", num_images=5)

    edit = subparsers.add_parser("edit", help="edit an image by text (the paper's text diffs)")
    edit.add_argument("image", type=Path, help="PNG or JPEG")
    edit.add_argument("instruction", help="the caption of the wanted image")
    edit.add_argument("--original-caption", default="", help="the caption of the input image")
    edit.add_argument("--strength", type=float, default=0.5, help="0..1, how far to move")
    add_call_options(edit, ("decoder", *upsamplers()), images=False)
    edit.set_defaults(flow="edit")

    inpaint = subparsers.add_parser("inpaint", help="redraw the masked region of an image")
    inpaint.add_argument("image", type=Path, help="PNG or JPEG")
    inpaint.add_argument("prompt")
    inpaint.add_argument(
        "--mask",
        type=Path,
        default=None,
        help="PNG whose white pixels are redrawn (default: the image's transparent pixels)",
    )
    add_call_options(inpaint, sampled_stages())
    inpaint.set_defaults(flow="inpaint")


def run(args) -> int:
    calls = {
        "vary": lambda client, **options: client.create_variations(
            args.image.read_bytes(), num_images=args.num_images, eta=args.eta, **options
        ),
        "interpolate": lambda client, **options: client.interpolate(
            _image_or_prompt(args.start), _image_or_prompt(args.end), num_images=args.num_images, **options
        ),
        "edit": lambda client, **options: client.edit(
            args.image.read_bytes(),
            args.instruction,
            original_caption=args.original_caption,
            strength=args.strength,
            **options,
        ),
        "inpaint": lambda client, **options: client.inpaint(
            args.image.read_bytes(),
            args.prompt,
            mask=args.mask.read_bytes() if args.mask else None,
            num_images=args.num_images,
            **options,
        ),
    }
    warn_unknown_words(args, _prompts(args))
    return call_and_write(args, calls[args.flow])
