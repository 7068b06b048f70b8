"""The projection texturing job: a mesh textured from its reference image (and optional
extra views) without any texture model.

The images are prepared cut-outs (object on white with its mask), as the shape stage
takes them; each is fitted onto the mesh's silhouette from its orbit pose, baked with the
release's weighting and the unseen texels inpainted (``texture/projection.py``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..geometry.mesh import Mesh
from ..image.prepare import PreparedImage
from ..sampling.progress import Progress
from ..texture.projection import FRONT_VIEW, TextureProjection, project_texture_detailed

# Below this silhouette IoU the image and the mesh were not seen from the same pose.
MIN_SILHOUETTE_FIT = 0.8


def _rgba(image: PreparedImage) -> np.ndarray:
    return np.dstack([image.rgb, image.mask])


def project_image_texture(
    mesh: Mesh,
    reference: PreparedImage,
    *,
    image_view: tuple[float, float] = FRONT_VIEW,
    extra_views: Sequence[tuple[PreparedImage, float, float]] = (),
    texture_size: int = 2048,
    render_size: int = 2048,
    backend: str = "auto",
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
) -> TextureProjection:
    """``mesh`` textured from ``reference`` seen from ``image_view`` (azimuth, elevation in
    degrees) and each ``(image, azimuth, elevation)`` of ``extra_views``."""
    return project_texture_detailed(
        mesh,
        _rgba(reference),
        image_view=image_view,
        extra_views=[(_rgba(image), azimuth, elevation) for image, azimuth, elevation in extra_views],
        texture_size=texture_size,
        render_size=render_size,
        backend=backend,
        device=device,
        progress=progress,
    )


def projection_warnings(result: TextureProjection) -> list[str]:
    """What a user should hear about a projection: an image that does not fit the mesh."""
    if min(result.silhouette_iou) < MIN_SILHOUETTE_FIT:
        return ["an image's silhouette does not match the mesh's (IoU below 0.8); "
                "the mesh may not face +z with +y up as the shape stage outputs it, "
                "or --image-view may not be where the image was taken from"]
    return []
