"""Tiny Hunyuan3D 2.0 checkpoints in the released layouts, written for tests.

The real files are several GB and cannot be fetched here; these follow the same folder
and key layout (``config.yaml`` + ``model.fp16.safetensors`` with ``model.``/``vae.``/
``conditioner.`` prefixes, DINOv2 keys named the transformers 4 way) at a size that
builds in milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from hy3d_core.io import shape_checkpoint_writer as writer

TINY_DIT_PARAMS = dict(
    in_channels=8, context_in_dim=32, hidden_size=64, mlp_ratio=4.0, num_heads=4, depth=2,
    depth_single_blocks=2, axes_dim=[16], theta=10000, qkv_bias=True, guidance_embed=False,
)
TINY_VAE_PARAMS = dict(
    num_latents=32, embed_dim=8, num_freqs=8, include_pi=False, heads=4, width=64,
    num_decoder_layers=2, qkv_bias=False, qk_norm=True, scale_factor=0.9990943042622529,
)
TINY_DINO_CONFIG = dict(
    attention_probs_dropout_prob=0.0, drop_path_rate=0.0, hidden_act="gelu",
    hidden_dropout_prob=0.0, hidden_size=32, image_size=28, initializer_range=0.02,
    layer_norm_eps=1e-6, layerscale_value=1.0, mlp_ratio=4, model_type="dinov2",
    num_attention_heads=2, num_channels=3, num_hidden_layers=2, patch_size=14, qkv_bias=True,
    use_swiglu_ffn=True,
)


def tiny_yaml(*, guidance_embed: bool = False, multiview: bool = False) -> dict:
    """A config.yaml of the released shape, pointing at the reference package's classes."""
    encoder_type = "DinoImageEncoderMV" if multiview else "DinoImageEncoder"
    kwargs = dict(config=dict(TINY_DINO_CONFIG), image_size=28, use_cls_token=True)
    if multiview:
        kwargs["view_num"] = 4
    return {
        "model": {
            "target": "hy3dgen.shapegen.models.Hunyuan3DDiT",
            "params": dict(TINY_DIT_PARAMS, guidance_embed=guidance_embed),
        },
        "vae": {"target": "hy3dgen.shapegen.models.ShapeVAE", "params": dict(TINY_VAE_PARAMS)},
        "conditioner": {
            "target": "hy3dgen.shapegen.models.SingleImageEncoder",
            "params": {"main_image_encoder": {"type": encoder_type, "kwargs": kwargs}},
        },
        "scheduler": {
            "target": "hy3dgen.shapegen.schedulers.FlowMatchEulerDiscreteScheduler",
            "params": {"num_train_timesteps": 1000},
        },
        "image_processor": {
            "target": "hy3dgen.shapegen.preprocessors.ImageProcessorV2",
            "params": {"size": 512, "border_ratio": 0.15},
        },
        "pipeline": {"target": "hy3dgen.shapegen.pipelines.Hunyuan3DDiTFlowMatchingPipeline"},
    }


def combined_state_dict(
    dit: dict[str, torch.Tensor],
    vae: dict[str, torch.Tensor],
    conditioner: dict[str, torch.Tensor] | None,
    *,
    released_dino_names: bool = True,
) -> dict[str, torch.Tensor]:
    """Prefix each part's state dict as the released single file does; with
    ``released_dino_names=False`` the conditioner keeps the installed transformers'
    names (as a file re-saved under transformers 5 would)."""
    if released_dino_names or conditioner is None:
        return writer.combined_state_dict(dit, vae, conditioner)
    flat = writer.combined_state_dict(dit, vae, None)
    flat.update({f"conditioner.{k}": v for k, v in conditioner.items()})
    return flat


def write_official_folder(
    folder: Path,
    state: dict[str, torch.Tensor],
    config: dict | None,
    *,
    dtype: torch.dtype = torch.float16,
    filename: str = "model.fp16.safetensors",
) -> Path:
    """Write ``config.yaml`` (when given) and the weights file as they are; returns the
    folder. For fixtures the library's writer refuses to make: pickled ``.ckpt`` files,
    files without a config, other file names, configs that do not match the weights."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in state.items()}
    if filename.endswith(".ckpt"):
        nested: dict[str, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            part, _, rest = key.partition(".")
            nested.setdefault(part, {})[rest] = value
        torch.save(nested, folder / filename)
    else:
        save_file(tensors, str(folder / filename))
    if config is not None:
        (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def randomise(module: torch.nn.Module, seed: int, std: float = 0.1) -> torch.nn.Module:
    """Fill every parameter with seeded noise (init values would hide layout mistakes)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
    return module


def tiny_vae(params: dict, seed: int):
    """A random ShapeVAE whose occupancy logits span far beyond the 0.95 near-surface
    band, as trained ones do (plain random weights give logits near zero everywhere)."""
    from hy3d_core.models.shape_vae import ShapeVAE
    from hy3d_core.models.shape_vae_config import ShapeVAEConfig

    vae = randomise(ShapeVAE(ShapeVAEConfig.from_params(params)), seed)
    with torch.no_grad():
        vae.geo_decoder.output_proj.weight.mul_(200)
    return vae


def write_tiny_shape_model(
    folder: Path, *, guidance_embed: bool = False, multiview: bool = False
) -> Path:
    """A random tiny model of our own classes in the official folder layout; its surface
    at level 0 is noise, not an object, but it exercises every stage."""
    from hy3d_core.models.conditioner import ImageConditioner
    from hy3d_core.models.conditioner_config import ConditionerConfig
    from hy3d_core.models.dit import HunyuanDiT
    from hy3d_core.models.dit_config import DiTConfig

    config = tiny_yaml(guidance_embed=guidance_embed, multiview=multiview)
    dit = randomise(HunyuanDiT(DiTConfig.from_params(config["model"]["params"])), 1)
    vae = tiny_vae(config["vae"]["params"], 2)
    conditioner = randomise(
        ImageConditioner(ConditionerConfig.from_yaml_section(config["conditioner"])), 3
    )
    return writer.write_shape_model(folder, dit=dit, vae=vae, conditioner=conditioner)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python tests/tiny_checkpoints.py OUTPUT_FOLDER")
    print(write_tiny_shape_model(Path(sys.argv[1])))


def demo_model_copy(folder: Path, config: dict | None) -> Path:
    """The shipped demo model's weights in ``folder`` with ``config`` as its config.yaml,
    or none when ``config`` is None: a real small model for tests of broken configs."""
    import shutil

    from hy3d_core.demo import DEMO_MODEL_DIR

    folder.mkdir(parents=True)
    shutil.copy(DEMO_MODEL_DIR / "model.fp16.safetensors", folder)
    if config is not None:
        (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder
