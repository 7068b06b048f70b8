"""What the commands share: their argument groups, the device and dtype they resolve, the
progress bar they draw and the checks on their outputs. No command's logic lives here.

Flags the ``shape``, ``texture`` and ``generate`` commands have in common are defined
once, so that ``generate`` (shape, then texture) takes exactly the flags of both.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import torch

from ..demo import DEMO_SHAPE_DEFAULTS as DEMO
from ..devices import AUTO_DTYPE_RULE, DEVICE_CHOICES, DTYPE_CHOICES, explain_dtype, resolve_device
from ..models.families import HUNYUAN3D_2_0
from ..pipelines.paint import RELEASED_TEXTURE_SIZE
from ..pipelines.shape import DECODERS
from ..render.rasterizer import RASTERIZER_NAMES
from ..sampling.paint_sampling import RELEASED_GUIDANCE, RELEASED_STEPS, RELEASED_VIEW_SIZE
from ..sampling.progress import Progress, StderrBar
from ..texture.projection import RELEASED_RENDER_SIZE

Value = TypeVar("Value")
# What the help texts quote; the defaults themselves come from the model in use.
RELEASE = HUNYUAN3D_2_0.defaults


def given(value: Value | None, default: Value) -> Value:
    """A flag's value, or the model's default when the flag was left out (None)."""
    return default if value is None else value


def stderr_progress(label: str) -> Progress:
    """A progress report drawn as a bar on stderr, labelled ``label``."""
    return Progress(StderrBar(label))


def device_and_dtype(args: argparse.Namespace) -> tuple[torch.device, torch.dtype]:
    """``--device`` and ``--dtype`` resolved ("auto": the best device; float16 on a GPU,
    bfloat16 on a CPU with bfloat16 matrix instructions, else float32). What "auto" picked
    and why goes to stderr in one line: the two CPU choices give different numbers."""
    device = resolve_device(args.device)
    dtype, reason = explain_dtype(args.dtype, device)
    if args.dtype == "auto":
        print(reason, file=sys.stderr)
    return device, dtype


def _nearest_existing_folder(path: Path) -> Path:
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_outputs(
    outputs: Iterable[Path | str | None],
    inputs: Iterable[Path | str | None],
    *,
    overwrite: bool,
) -> None:
    """Refuse, before any slow work, a run whose outputs cannot all be written: a folder
    the user may not write to, one output named twice, an output that is an input (it
    would replace it), or an existing file without --overwrite. A missing folder is fine:
    the save creates it."""
    targets = [Path(target) for target in outputs if target is not None]
    for target in targets:
        folder = _nearest_existing_folder(target.absolute())
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"cannot write {target}: {folder} is not writable; choose a folder you can write to")
    resolved = [target.resolve() for target in targets]
    for index, target in enumerate(resolved):
        if target in resolved[:index]:
            raise ValueError(f"{targets[index]} would be written twice (e.g. --save-latents equal to "
                             "--out); give each output its own name")
    sources = {Path(source).resolve(): source for source in inputs if source is not None}
    for target, shown in zip(resolved, targets):
        if target in sources:
            raise ValueError(f"{shown} is an output of this run and also the input {sources[target]}; "
                             "choose another --out name so the input is not replaced")
    for target in targets:
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} exists; pass --overwrite to replace it")


def _number(parse: Callable[[str], Value], text: str, kind: str) -> Value:
    try:
        return parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None


def int_in_range(low: int, high: int | None = None, *, multiple_of: int = 1) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (no upper bound when None)
    that is a multiple of ``multiple_of``; checked while parsing, before any file is read."""
    def parse(text: str) -> int:
        value = _number(int, text, "a whole number")
        above = "" if high is None else f" and at most {high}"
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} must be at least {low}{above}")
        if value % multiple_of:
            raise argparse.ArgumentTypeError(f"{value} must be a multiple of {multiple_of}")
        return value
    return parse


def finite_float(text: str) -> float:
    """An argparse type: a finite number (not nan or inf)."""
    value = _number(float, text, "a number")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


POSITIVE_INT = int_in_range(1)
TEXTURE_SIZE = int_in_range(64, 4096)
VIEW_SIZE = int_in_range(8, multiple_of=8)
OCTREE_RESOLUTION = int_in_range(16, 1024)
FACE_BUDGET = int_in_range(0)


def add_device_arguments(parser: argparse.ArgumentParser, dtype_help: str) -> None:
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--dtype", choices=DTYPE_CHOICES, default="auto", help=dtype_help)


MODELS_DIR_ENV = "HY3D_MODELS_DIR"


def add_background_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--background`` and ``--models-dir``, the folder a model method's weights are
    found in (``rembg/...``, as in ComfyUI's models folder)."""
    parser.add_argument("--background", default="auto", help=help_text)
    parser.add_argument("--models-dir", type=Path, default=os.environ.get(MODELS_DIR_ENV) or None,
                        help="models folder holding rembg/ (RMBG-2.0, BiRefNet, u2net) for "
                             f"--background; default: ${MODELS_DIR_ENV}")


def add_shape_arguments(shape: argparse.ArgumentParser) -> None:
    """The shape stage's flags (``shape`` and ``generate``); sampling and decoding flags
    default to None, which means the model's own default."""
    shape.add_argument("--model", default=None,
                       help="shape checkpoint: official folder or single file (default: the demo "
                            "model shipped with the pack, which knows only simple procedural shapes)")
    shape.add_argument("--image", required=True, help="input image (RGBA cut-out, or any image)")
    shape.add_argument("--out", required=True, help="output mesh: .glb, .obj or .ply")
    shape.add_argument("--steps", type=POSITIVE_INT, default=None, help=f"sampling steps (release: {RELEASE.steps}; demo model: {DEMO.steps})")
    shape.add_argument("--guidance", type=finite_float, default=None,
                       help=f"guidance scale (release: {RELEASE.guidance}; demo model: {DEMO.guidance})")
    shape.add_argument("--seed", type=int, default=0, help="noise seed")
    shape.add_argument("--octree-resolution", type=OCTREE_RESOLUTION, default=None,
                       help=f"grid resolution (release: {RELEASE.octree_resolution}; demo model: "
                            f"{DEMO.octree_resolution})")
    shape.add_argument("--num-chunks", type=POSITIVE_INT, default=8000, help="points per decoder call")
    shape.add_argument("--decoder", choices=DECODERS, default=None,
                       help=f"volume decoding (release: {RELEASE.decoder}; demo model: {DEMO.decoder})")
    shape.add_argument("--mc-level", type=finite_float, default=0.0, help="marching cubes level")
    shape.add_argument("--open-at-bounds", action="store_true",
                       help="leave a shape that reaches the grid's edge open there, as the "
                            "release does (default: capped, so the mesh stays closed)")
    add_background_argument(shape, "background removal for images without alpha: auto, classical, "
                                   "alpha, or a model method with weights on disk")
    add_device_arguments(shape, AUTO_DTYPE_RULE)
    shape.add_argument("--save-latents", type=Path, default=None,
                       help="also write the final latents [B, num_latents, 64] (torch file)")
    shape.add_argument("--no-postprocess", action="store_true",
                       help="skip floater/degenerate removal and face reduction")
    shape.add_argument("--max-faces", type=FACE_BUDGET, default=None,
                       help=f"face budget, 0: no reduction (release: {RELEASE.max_faces}; demo model: "
                            f"{DEMO.max_faces})")
    shape.add_argument("--overwrite", action="store_true", help="replace existing output files")


def parse_orbit_pose(text: str) -> tuple[float, float]:
    """``AZ:EL`` in degrees, as ``--image-view`` takes it."""
    azimuth, colon, elevation = text.partition(":")
    try:
        if not colon:
            raise ValueError
        pose = float(azimuth), float(elevation)
        if not all(map(math.isfinite, pose)):
            raise ValueError
        return pose
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not AZIMUTH:ELEVATION in degrees, e.g. 30:20") from None


def add_baking_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every texturing route has: texture size, UV layout and rasterizer."""
    parser.add_argument("--texture-size", type=TEXTURE_SIZE, default=RELEASED_TEXTURE_SIZE,
                        help=f"texture size (64..4096; release: {RELEASED_TEXTURE_SIZE})")
    parser.add_argument("--atlas-resolution", type=POSITIVE_INT, default=1024,
                        help="texels the UV charts are laid out for (xatlas)")
    parser.add_argument("--backend", choices=RASTERIZER_NAMES, default="auto",
                        help="rasterizer: nvdiffrast on CUDA when installed, else torch")


def add_projection_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of the projection route only."""
    parser.add_argument("--render-size", type=POSITIVE_INT, default=RELEASED_RENDER_SIZE,
                        help="size the images are projected at, and with Paint 2.1 the size its geometry maps are "
                             "rendered at and its views are baked at (release: 2048)")
    parser.add_argument("--image-view", type=parse_orbit_pose, default=None, metavar="AZ:EL",
                        help="orbit pose the --image was taken from, in degrees (default: the "
                             "shape model's: 0:0, the front, for Hunyuan3D 2.0; 30:20 for the "
                             "demo model; for texture, the pose the mesh's GLB records, else 0:0)")


def add_paint_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """The Paint model's flags; the noise seed is ``--seed``, which the caller defines
    (``generate`` shares it with the shape stage)."""
    parser.add_argument("--paint", required=required, default=None,
                        help="the hunyuan3d-paint-v2-0 or hunyuan3d-paintpbr-v2-1 folder (unet/, vae/, scheduler/, "
                             "model_index.json); 2.1 gives a PBR material"
                             + ("" if required else "; texture with Paint instead of projecting the image"))
    parser.add_argument("--paint-dino", default=None,
                        help="Paint 2.1's facebook/dinov2-giant folder (default: dinov2-giant beside --paint)")
    parser.add_argument("--delight", default=None,
                        help="the hunyuan3d-delight-v2-0 folder; without it the image's lighting is kept")
    parser.add_argument("--paint-steps", type=POSITIVE_INT, default=RELEASED_STEPS,
                        help=f"Paint denoising steps (release: {RELEASED_STEPS})")
    parser.add_argument("--paint-guidance", type=finite_float, default=RELEASED_GUIDANCE,
                        help=f"Paint guidance (release: {RELEASED_GUIDANCE})")
    parser.add_argument("--view-size", type=VIEW_SIZE, default=RELEASED_VIEW_SIZE,
                        help="pixels per generated view, also the geometry maps' and Delight's size "
                             f"(release: {RELEASED_VIEW_SIZE})")
