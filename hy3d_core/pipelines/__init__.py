"""The library's jobs, one function each, with their settings: image -> mesh
(:func:`generate_shape`), mesh -> painted mesh (:func:`paint_texture`), projection
texturing (:func:`project_image_texture`) and mesh -> latents (:func:`encode_mesh`).

The command line, the tools and the tests run these chains; the ComfyUI nodes run their
stages one per node, so each stage is also importable from its module.
"""

from .encoding import encode_mesh
from .paint import PaintSettings, paint_texture
from .projection import project_image_texture, projection_warnings
from .shape import (
    DECODERS,
    SamplingSettings,
    ShapeResult,
    SurfaceSettings,
    VolumeSettings,
    decode_volume,
    encode_images,
    encode_views,
    generate_shape,
    grid_to_meshes,
    latent_field,
    sample_latents,
)

__all__ = [
    "DECODERS",
    "PaintSettings",
    "SamplingSettings",
    "ShapeResult",
    "SurfaceSettings",
    "VolumeSettings",
    "decode_volume",
    "encode_images",
    "encode_mesh",
    "encode_views",
    "generate_shape",
    "grid_to_meshes",
    "latent_field",
    "paint_texture",
    "project_image_texture",
    "projection_warnings",
    "sample_latents",
]
