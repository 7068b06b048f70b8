"""Mesh -> shape latents, through the ShapeVAE's point-cloud encoder.

The result is in the DiT's latent space: the encoder's latents times the VAE's
``scale_factor``, exactly what the flow-matching sampler produces, so an encoded mesh
can go wherever a sampled latent goes (decoding divides by the factor again, training
targets are these values, an image-to-3D sample can be compared with them).
"""

from __future__ import annotations

import torch

from ..geometry.mesh import Mesh
from ..geometry.normalization import RELEASED_ENCODER_BOUND, normalize_mesh
from ..geometry.surface_sampling import RELEASED_SHARP_THRESHOLD, surface_point_cloud
from ..models.shape_vae import ShapeVAE

# Point features per row: the normal, then the sharp-edge flag when the VAE takes one.
_FEATURES_WITHOUT_FLAG = 3
_FEATURES_WITH_FLAG = 4


def encode_mesh(
    vae: ShapeVAE,
    mesh: Mesh,
    *,
    seed: int = 0,
    sample_posterior: bool = False,
    sharp_threshold: float = RELEASED_SHARP_THRESHOLD,
    creases_only: bool = True,
    bound: float = RELEASED_ENCODER_BOUND,
) -> torch.Tensor:
    """Latents ``[1, num_latents, embed_dim]`` of ``mesh``, scaled like sampler latents.

    The mesh is first normalised into the VAE's cube (``normalize_mesh`` with ``bound``;
    the latents describe that normalised shape, so call ``normalize_mesh`` yourself to
    keep the transform back to the mesh's frame). The VAE's ``pc_size`` uniform and
    ``pc_sharpedge_size`` sharp-edge samples are drawn with ``seed``, which also drives
    the encoder's query choice and, with ``sample_posterior``, the posterior sample; the
    same seed gives the same latents. ``sharp_threshold`` and ``creases_only`` are
    ``sharp_edges``'s. Runs without gradients on the VAE's device, in its dtype.
    """
    config = vae.config
    if not config.has_encoder:
        raise ValueError(
            "This ShapeVAE has no encoder (decoder-only checkpoints such as "
            "hunyuan3d-vae-v2-0 or the one inside a DiT file have none): load the VAE "
            "from hunyuan3d-vae-v2-0-withencoder to encode meshes."
        )
    if config.point_feats not in (_FEATURES_WITHOUT_FLAG, _FEATURES_WITH_FLAG):
        raise ValueError(
            f"This ShapeVAE's encoder takes {config.point_feats} features per point; only "
            f"normals ({_FEATURES_WITHOUT_FLAG}) or normals plus a sharp-edge flag "
            f"({_FEATURES_WITH_FLAG}) can be made from a mesh."
        )
    if mesh.is_empty:
        raise ValueError(
            f"Cannot encode a mesh without faces ({len(mesh.vertices)} vertices, "
            f"{len(mesh.faces)} faces): the encoder samples the mesh's surface."
        )
    normalized, _ = normalize_mesh(mesh, bound=bound)
    surface = surface_point_cloud(
        normalized,
        num_uniform=config.pc_size,
        num_sharp=config.pc_sharpedge_size,
        seed=seed,
        sharp_threshold=sharp_threshold,
        creases_only=creases_only,
        sharp_flag=config.point_feats == _FEATURES_WITH_FLAG,
    )
    device = next(vae.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        latents = vae.encode(surface.to(device), sample_posterior=sample_posterior,
                             generator=generator)
    return latents * config.scale_factor
