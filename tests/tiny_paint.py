"""Write tiny Paint and Delight folders in the released diffusers layouts, for CPU tests.

The sizes the release hard-codes into its wrapper (a 1280-wide class embedding, 1024-wide
learned text embeddings) are kept, through ``time_embedding_dim`` and
``cross_attention_dim``, so the reference implementation can be built at the same tiny
config; everything else is as small as diffusers allows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

TINY_UNET_CONFIG = {
    "_class_name": "UNet2DConditionModel",
    "sample_size": 8,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": [32, 64],
    "layers_per_block": 1,
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "cross_attention_dim": 1024,
    "attention_head_dim": 8,
    "norm_num_groups": 8,
    "time_embedding_dim": 1280,
    "use_linear_projection": True,
}

TINY_VAE_CONFIG = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
    "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
    "block_out_channels": [8, 16],
    "layers_per_block": 1,
    "latent_channels": 4,
    "norm_num_groups": 4,
    "sample_size": 16,
}

TINY_VIEW_SIZE = 16
"""Pixels per side of a tiny view: the tiny VAE halves it to the UNet's 8x8 latents."""


@pytest.fixture
def flush_denormals():
    """Flush subnormal floats to zero, on one thread, while a test runs.

    Tiny random UNets push some activations (GELU/SiLU tails, softmax weights) into the
    subnormal range, where CPU arithmetic is about 20x slower. The flush flag is per
    thread and torch's worker threads already exist, so the test also runs on the calling
    thread only. Both sides of a parity test run under the same setting.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)
    torch.set_num_threads(threads)


def randomize_(module: torch.nn.Module, seed: int, scale: float = 0.05) -> None:
    """Give every parameter random values so no zero-initialised path hides a difference."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            noise = torch.randn(parameter.shape, generator=generator) * scale
            parameter.add_(noise)


def tiny_paint_unet_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict in the released wrapped layout, built with our own model."""
    from hy3d_core.models.paint_unet import PaintUNet

    torch.manual_seed(seed)
    model = PaintUNet(dict(TINY_UNET_CONFIG))
    randomize_(model, seed)
    return model.state_dict()


def write_tiny_paint_folder(
    folder: Path,
    unet_state: dict[str, torch.Tensor] | None = None,
    unet_config: dict | None = None,
    seed: int = 0,
) -> Path:
    """Write ``unet/``, ``vae/``, ``scheduler/`` and ``model_index.json`` like hunyuan3d-paint-v2-0."""
    from diffusers import AutoencoderKL, EulerAncestralDiscreteScheduler

    folder = Path(folder)
    (folder / "unet").mkdir(parents=True, exist_ok=True)
    config = dict(unet_config or TINY_UNET_CONFIG)
    (folder / "unet" / "config.json").write_text(json.dumps(config))
    state = unet_state if unet_state is not None else tiny_paint_unet_state(seed)
    torch.save(state, folder / "unet" / "diffusion_pytorch_model.bin")

    torch.manual_seed(seed + 1)
    vae = AutoencoderKL(**TINY_VAE_CONFIG)
    vae.save_pretrained(folder / "vae", safe_serialization=True)
    EulerAncestralDiscreteScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear").save_pretrained(
        folder / "scheduler"
    )
    (folder / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "HunyuanPaintPipeline",
                "unet": ["modules", "UNet2p5DConditionModel"],
                "vae": ["diffusers", "AutoencoderKL"],
                "scheduler": ["diffusers", "EulerAncestralDiscreteScheduler"],
            }
        )
    )
    return folder


def _write_tiny_clip_tokenizer(folder: Path) -> None:
    """A byte-level BPE vocabulary with no merges: enough for CLIP's tokenizer to run offline.

    Byte-level BPE spells every byte as one printable character (bytes that are not
    printable are moved to code points from 256 on); the vocabulary holds those 256
    characters, each also with the end-of-word mark, plus the two special tokens.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [b for b in range(256) if b not in printable]
    symbols = [chr(b) for b in printable] + [chr(256 + n) for n in range(len(moved))]
    vocab = {symbol: index for index, symbol in enumerate(symbols + [s + "</w>" for s in symbols])}
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def write_tiny_delight_folder(folder: Path, seed: int = 0) -> Path:
    """Write a hunyuan3d-delight-v2-0-like InstructPix2Pix folder with tiny random components."""
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionInstructPix2PixPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(folder)
    _write_tiny_clip_tokenizer(folder / "tokenizer_source")
    tokenizer = CLIPTokenizer(
        str(folder / "tokenizer_source" / "vocab.json"),
        str(folder / "tokenizer_source" / "merges.txt"),
        model_max_length=77,
    )
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=8,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(**TINY_VAE_CONFIG)
    pipeline = StableDiffusionInstructPix2PixPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=EulerAncestralDiscreteScheduler(beta_schedule="scaled_linear"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(folder / "delight")
    return folder / "delight"
