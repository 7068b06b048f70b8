"""Tell a Hunyuan3D-Paint 2.0 folder from a 2.1 PBR one before loading either.

Both releases are diffusers folders with the same ``model_index.json`` class
(``HunyuanPaintPipeline``), the same ``unet/`` file names and an SD 2.1 ``config.json``;
only the UNet weights differ. The weights' key names decide: 2.1 PBR has per-material
learned text tokens (``learned_text_clip_albedo``) and DINO attention (``attn_dino``),
2.0 has one ``learned_text_clip_gen``. Reading the names needs no tensor data (the file
is memory-mapped), so the check is instant even for the 3.9 GB release file
(docs/release_conventions_2_1.md, section 9).
"""

from __future__ import annotations

import json
from pathlib import Path

from .checkpoint_files import CheckpointError, TensorFile

PAINT_20 = "hunyuan3d-paint-v2-0"
PAINT_PBR_21 = "hunyuan3d-paintpbr-v2-1"

PIPELINE_CLASS = "HunyuanPaintPipeline"
UNET_WEIGHT_NAMES = ("diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors")

PAINT_FAMILY_LABELS = {
    PAINT_20: "Hunyuan3D-Paint 2.0 (hunyuan3d-paint-v2-0, RGB views)",
    PAINT_PBR_21: "Hunyuan3D-Paint 2.1 PBR (hunyuan3d-paintpbr-v2-1, albedo and metallic-roughness views)",
}


def find_unet_weights(folder: Path) -> Path | None:
    """The UNet weight file of a paint folder, or None when there is none."""
    for name in UNET_WEIGHT_NAMES:
        if (folder / "unet" / name).is_file():
            return folder / "unet" / name
    return None


def paint_family(folder: str | Path) -> str | None:
    """``PAINT_20`` or ``PAINT_PBR_21`` from the UNet's key names; None when neither is recognised.

    A ``model_index.json`` naming another pipeline class is an error: the folder is some
    other diffusers model. (Its entries are only read, never used to import code.)
    """
    folder = Path(folder)
    index = folder / "model_index.json"
    if index.is_file():
        try:
            pipeline = json.loads(index.read_text(encoding="utf-8")).get("_class_name")
        except (OSError, json.JSONDecodeError, AttributeError) as error:
            raise CheckpointError(f"{index} could not be read as a JSON object ({error}).") from error
        if pipeline != PIPELINE_CLASS:
            raise CheckpointError(
                f"{index} describes a {pipeline!r} pipeline, not Hunyuan3D-Paint ({PIPELINE_CLASS}); "
                f"point to the {PAINT_PBR_21} or {PAINT_20} folder."
            )
    weights = find_unet_weights(folder)
    if weights is None:
        return None
    keys = TensorFile(weights).keys()
    if "unet.learned_text_clip_albedo" in keys or any(".attn_dino." in key for key in keys):
        return PAINT_PBR_21
    if "unet.learned_text_clip_gen" in keys:
        return PAINT_20
    return None


def require_paint_family(folder: str | Path, expected: str) -> None:
    """Raise a clear error when ``folder`` holds the other paint release than ``expected``."""
    found = paint_family(folder)
    if found is not None and found != expected:
        raise CheckpointError(
            f"{folder} holds {PAINT_FAMILY_LABELS[found]}, but {PAINT_FAMILY_LABELS[expected]} is needed here. "
            f"Point to the {expected} folder instead (or use the loader for {found})."
        )
