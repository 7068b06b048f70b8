"""The Hunyuan3D ShapeVAE: latent set decoder, occupancy decoder and point-cloud encoder.

A shape is a set of ``num_latents`` vectors of ``embed_dim`` numbers. Decoding maps them
through ``post_kl`` and a self-attention transformer; the geometry decoder then answers
"how far inside is this point?" (an occupancy logit, positive inside) for any query point
by cross-attending from the point's Fourier embedding to the decoded latents. The
optional encoder turns surface samples (xyz, normal, sharp-edge flag) into the same
latent set, so meshes can be turned into latents for editing or fine-tuning.

Module names match the released checkpoints (``post_kl``, ``transformer.resblocks.N``,
``geo_decoder``, ``encoder``, ``pre_kl``), so ``load_state_dict(strict=True)`` takes the
released weights as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..geometry.farthest_point_sampling import farthest_point_sample
from .shape_vae_config import ShapeVAEConfig
from .vae_blocks import (
    ResidualCrossAttentionBlock,
    Transformer,
    fourier_embed,
    fourier_embedding_dim,
)

LOGVAR_RANGE = (-30.0, 20.0)


@dataclass(frozen=True)
class LatentKeysValues:
    """The geometry decoder's keys and values of one latent set, ``[B, heads, M, head_dim]``.

    Computed once per shape by :meth:`ShapeVAE.project_latents` and reused for every chunk
    of query points. Batch 1 is broadcast against any number of query batches.
    """

    keys: torch.Tensor
    values: torch.Tensor

    @property
    def num_latents(self) -> int:
        return self.keys.shape[-2]


@dataclass(frozen=True)
class DiagonalGaussian:
    """The encoder's posterior over latents, ``[B, num_latents, embed_dim]`` each."""

    mean: torch.Tensor
    logvar: torch.Tensor

    def mode(self) -> torch.Tensor:
        return self.mean

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        device = generator.device if generator is not None else self.mean.device
        noise = torch.randn(self.mean.shape, generator=generator, device=device,
                            dtype=self.mean.dtype)
        return self.mean + torch.exp(0.5 * self.logvar) * noise.to(self.mean.device)

    def kl(self) -> torch.Tensor:
        """KL divergence to N(0, I), averaged over all but the batch axis: ``[B]``."""
        per_value = self.mean.square() + self.logvar.exp() - 1.0 - self.logvar
        return 0.5 * per_value.flatten(1).mean(dim=1)


class GeometryDecoder(nn.Module):
    """Occupancy logit of query points given decoded latents (the release's geo_decoder)."""

    def __init__(self, config: ShapeVAEConfig) -> None:
        super().__init__()
        self.num_freqs = config.num_freqs
        self.include_pi = config.include_pi
        width = config.geo_width
        self.query_proj = nn.Linear(fourier_embedding_dim(config.num_freqs), width)
        self.latents_proj = (nn.Linear(config.width, width)
                             if config.geo_decoder_downsample_ratio != 1 else None)
        self.cross_attn_decoder = ResidualCrossAttentionBlock(
            width, config.geo_heads, config.qkv_bias, config.geo_qk_norm,
            mlp_expand_ratio=config.geo_decoder_mlp_expand_ratio,
        )
        # Default LayerNorm eps (1e-5) here, unlike the blocks' 1e-6, as released.
        self.ln_post = nn.LayerNorm(width) if config.geo_decoder_ln_post else None
        self.output_proj = nn.Linear(width, 1)

    def project_latents(self, decoded: torch.Tensor) -> LatentKeysValues:
        """Keys and values made contiguous per head once here: every chunk of a decode
        reads them, and FlashVDM's key scoring (``q @ k^T``) otherwise copies the
        head-strided keys into a contiguous transpose on every chunk (a few percent of
        a chunk's time in the profile; the results are the same bits)."""
        if self.latents_proj is not None:
            decoded = self.latents_proj(decoded)
        keys, values = self.cross_attn_decoder.keys_values(decoded)
        return LatentKeysValues(keys.contiguous(), values.contiguous())

    def query(self, points: torch.Tensor, kv: LatentKeysValues, top_k: int | None = None,
              selection_stride: int = 1) -> torch.Tensor:
        embedding = fourier_embed(points, self.num_freqs, self.include_pi)
        x = self.query_proj(embedding.to(self.query_proj.weight.dtype))
        x = self.cross_attn_decoder.attend(x, kv.keys, kv.values, top_k, selection_stride)
        if self.ln_post is not None:
            x = self.ln_post(x)
        return self.output_proj(x).squeeze(-1)


class PointCloudEncoder(nn.Module):
    """Latent queries (FPS-chosen surface points) attend to the surface samples."""

    def __init__(self, config: ShapeVAEConfig) -> None:
        super().__init__()
        self.input_proj = nn.Linear(fourier_embedding_dim(config.num_freqs) + config.point_feats,
                                    config.width)
        self.cross_attn = ResidualCrossAttentionBlock(config.width, config.heads,
                                                      config.qkv_bias, config.qk_norm)
        self.self_attn = Transformer(config.width, config.heads, config.num_encoder_layers,
                                     config.qkv_bias, config.qk_norm)
        self.ln_post = nn.LayerNorm(config.width) if config.use_ln_post else None

    def forward(self, queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        """Both inputs are embedded points ``[B, *, fourier + point_feats]``."""
        latents = self.cross_attn(self.input_proj(queries), self.input_proj(points))
        latents = self.self_attn(latents)
        return self.ln_post(latents) if self.ln_post is not None else latents


class ShapeVAE(nn.Module):
    """Decoder (always) and point-cloud encoder (when the config has one)."""

    def __init__(self, config: ShapeVAEConfig) -> None:
        super().__init__()
        self.config = config
        if config.has_encoder:
            self.encoder = PointCloudEncoder(config)
            self.pre_kl = nn.Linear(config.width, 2 * config.embed_dim)
        self.post_kl = nn.Linear(config.embed_dim, config.width)
        self.transformer = Transformer(config.width, config.heads, config.num_decoder_layers,
                                       config.qkv_bias, config.qk_norm)
        self.geo_decoder = GeometryDecoder(config)

    # ----- decoding -------------------------------------------------------------------

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """``[B, N, embed_dim]`` latents (already divided by scale_factor) -> ``[B, N, width]``."""
        if latents.ndim != 3 or latents.shape[-1] != self.config.embed_dim:
            raise ValueError(f"ShapeVAE.decode expects latents [B, N, {self.config.embed_dim}], "
                             f"got {tuple(latents.shape)}; ComfyUI LATENTs are [B, C, N]: "
                             f"transpose them first")
        x = self.post_kl(latents.to(self.post_kl.weight.dtype))
        return self.transformer(x)

    def project_latents(self, decoded: torch.Tensor) -> LatentKeysValues:
        """Keys/values of the geometry decoder for decoded latents ``[B, N, width]``."""
        if decoded.ndim != 3 or decoded.shape[-1] != self.config.width:
            raise ValueError(f"project_latents expects decoded latents [B, N, "
                             f"{self.config.width}] (the output of decode), got "
                             f"{tuple(decoded.shape)}")
        return self.geo_decoder.project_latents(decoded)

    def query(self, points: torch.Tensor, kv: LatentKeysValues, top_k: int | None = None,
              *, selection_stride: int = 1) -> torch.Tensor:
        """Occupancy logits ``[B, P]`` (positive inside) of points ``[B, P, 3]``.

        With ``top_k`` the points are treated as one spatial block and attend only to the
        ``top_k`` latents (per batch item and head) most similar to the block's queries,
        FlashVDM's adaptive key/value selection; ``selection_stride`` scores with every
        n-th query only (the release uses 100 on its coarsest level, 50 after).
        """
        if points.ndim != 3 or points.shape[-1] != 3:
            raise ValueError(f"query points must be [B, P, 3], got {tuple(points.shape)}")
        batch = kv.keys.shape[0]
        if batch not in (1, points.shape[0]):
            raise ValueError(f"{points.shape[0]} query batches cannot use keys/values of "
                             f"{batch} latent sets: pass one latent set or one per batch")
        if top_k is not None and not 1 <= top_k <= kv.num_latents:
            raise ValueError(f"top_k={top_k} must be between 1 and the number of latents "
                             f"({kv.num_latents})")
        if selection_stride < 1:
            raise ValueError(f"selection_stride must be >= 1, got {selection_stride}")
        return self.geo_decoder.query(points, kv, top_k, selection_stride)

    def occupancy(self, points: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """Logits of a few points in one call; volume decoding should reuse ``project_latents``."""
        return self.query(points, self.project_latents(decoded))

    # ----- encoding -------------------------------------------------------------------

    def _check_surface(self, surface: torch.Tensor) -> None:
        config = self.config
        if not config.has_encoder:
            raise ValueError("this ShapeVAE has no encoder (a decoder-only checkpoint such "
                             "as hunyuan3d-vae-v2-0): load a VAE with an encoder, e.g. "
                             "hunyuan3d-vae-v2-0-withencoder, to encode meshes")
        channels = 3 + config.point_feats
        rows = config.pc_size + config.pc_sharpedge_size
        if surface.ndim != 3 or surface.shape[-1] != channels or surface.shape[1] != rows:
            raise ValueError(
                f"surface must be [B, {rows}, {channels}]: {config.pc_size} uniform then "
                f"{config.pc_sharpedge_size} sharp-edge samples of xyz + {config.point_feats} "
                f"features; got {tuple(surface.shape)}"
            )

    def sample_encoder_rows(self, surface: torch.Tensor, *,
                            generator: torch.Generator | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of ``surface`` used as latent queries ``[B, num_latents]`` and as points ``[K]``.

        Per set (uniform, sharp): a random subset of ``queries * downsample_ratio`` rows,
        then FPS on its xyz from a random start for the set's queries, as the 2.1 release
        does. In the released configs the subset is the whole set, so only the FPS start
        is random. Draws come from ``generator`` (torch's default one when None).
        """
        self._check_surface(surface)
        config = self.config
        sets = ((0, config.pc_size), (config.pc_size, config.pc_sharpedge_size))
        query_rows, point_rows = [], []
        for (offset, size), queries in zip(sets, config.encoder_query_counts):
            if queries == 0:
                continue
            if queries > size:
                raise ValueError(f"cannot place {queries} latent queries on a set of {size} "
                                 f"surface samples")
            keep = min(queries * config.downsample_ratio, size)
            if keep < size:
                device = generator.device if generator is not None else torch.device("cpu")
                rows = torch.randperm(size, generator=generator, device=device)[:keep]
                rows = rows.to(surface.device) + offset
            else:
                rows = torch.arange(offset, offset + size, device=surface.device)
            picked = farthest_point_sample(surface[:, rows, :3], queries, start_index=None,
                                           generator=generator)
            query_rows.append(rows[picked])
            point_rows.append(rows)
        return torch.cat(query_rows, dim=1), torch.cat(point_rows)

    def _embed_surface(self, samples: torch.Tensor) -> torch.Tensor:
        config = self.config
        embedding = fourier_embed(samples[..., :3], config.num_freqs, config.include_pi)
        features = samples[..., 3:].to(embedding.dtype)
        dtype = self.encoder.input_proj.weight.dtype
        return torch.cat((embedding, features), dim=-1).to(dtype)

    def encode_posterior(self, surface: torch.Tensor, *, generator: torch.Generator | None = None,
                         query_indices: torch.Tensor | None = None) -> DiagonalGaussian:
        """Posterior over latents for surface samples ``[B, pc_size + pc_sharpedge_size, 3 + F]``.

        ``query_indices`` (``[num_latents]`` or ``[B, num_latents]`` rows of ``surface``)
        fixes the latent queries instead of sampling them; every surface row is then
        attended to, which is what the released configs do anyway.
        """
        self._check_surface(surface)
        batch, rows, _ = surface.shape
        if query_indices is None:
            query_rows, point_rows = self.sample_encoder_rows(surface, generator=generator)
            points = surface[:, point_rows]
        else:
            query_rows = query_indices.to(surface.device, torch.long)
            query_rows = query_rows[None] if query_rows.ndim == 1 else query_rows
            if query_rows.ndim != 2 or query_rows.shape[0] not in (1, batch) \
                    or query_rows.shape[1] != self.config.num_latents:
                raise ValueError(f"query_indices must be [{self.config.num_latents}] or "
                                 f"[{batch}, {self.config.num_latents}] surface rows, got "
                                 f"{tuple(query_indices.shape)}")
            query_rows = query_rows.expand(batch, -1)
            if query_rows.min() < 0 or query_rows.max() >= rows:
                raise ValueError(f"query_indices must be rows of surface, in [0, {rows})")
            points = surface
        queries = surface.gather(1, query_rows[..., None].expand(-1, -1, surface.shape[-1]))
        latents = self.encoder(self._embed_surface(queries), self._embed_surface(points))
        mean, logvar = self.pre_kl(latents).chunk(2, dim=-1)
        return DiagonalGaussian(mean, logvar.clamp(*LOGVAR_RANGE))

    def encode(self, surface: torch.Tensor, *, sample_posterior: bool = False,
               generator: torch.Generator | None = None,
               query_indices: torch.Tensor | None = None) -> torch.Tensor:
        """Latents ``[B, num_latents, embed_dim]``: the posterior mean, or a sample of it.

        Not multiplied by ``scale_factor``; the diffusion model's latents are these times it.
        """
        posterior = self.encode_posterior(surface, generator=generator,
                                          query_indices=query_indices)
        return posterior.sample(generator) if sample_posterior else posterior.mode()
