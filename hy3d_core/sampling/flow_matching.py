"""Flow-matching Euler sampler for the shape DiT, numerically as Hunyuan3D 2.0 releases it.

The released pipeline runs "time" forwards: sigma is the data fraction (0 = pure noise,
1 = data) and the velocity points from noise to data. The arithmetic below follows the
release operation by operation (the float32 schedule, the detour of the model time through
``sigma * 1000`` in the latents' dtype, the float32 Euler update rounded back to the
model's output dtype) because the DiT was trained and tuned against exactly those numbers
and because parity tests compare latents bit for bit.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from .progress import Progress

NUM_TRAIN_TIMESTEPS = 1000
"""The released scheduler hands the model ``timestep / 1000`` with ``timestep = sigma * 1000``."""

VelocityFn = Callable[..., Tensor]
"""``velocity_fn(x [B, N, C], t [B], context [B, L, D], guidance=[B] | None) -> v [B, N, C]``."""


def _check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number of at least 1, got {steps!r}")


def flow_matching_sigmas(steps: int) -> Tensor:
    """The ``steps + 1`` float32 sigmas: ``linspace(0, 1, steps)`` with a final 1.0 appended.

    The linspace is taken in float64 by NumPy and then rounded to float32 because that is
    how the release builds it; torch's own linspace may differ in the last bit. The extra
    1.0 makes the last model call a zero-length step (see ``skip_last_call``).
    """
    _check_steps(steps)
    schedule = torch.from_numpy(np.linspace(0.0, 1.0, steps)).to(torch.float32)
    return torch.cat([schedule, torch.ones(1)])


def initial_noise(
    batch: int,
    num_latents: int,
    channels: int,
    seed: int,
    dtype: torch.dtype,
    device: torch.device | str,
) -> Tensor:
    """Starting noise ``[batch, num_latents, channels]`` that is the same on every machine.

    Drawn in float32 by a CPU generator and only then cast and moved, so a seed gives the
    same shape on CPU, CUDA and MPS and in every implementation that follows this rule
    (for float16 and bfloat16 this equals the release drawing directly in that dtype).
    """
    for name, value in (("batch", batch), ("num_latents", num_latents), ("channels", channels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**64:
        raise ValueError(f"seed must be a whole number in [-2**63, 2**64), got {seed!r}")
    generator = torch.Generator("cpu").manual_seed(seed)
    noise = torch.randn([batch, num_latents, channels], generator=generator)
    return noise.to(device=device, dtype=dtype)


def sample_flow_matching(
    velocity_fn: VelocityFn,
    noise: Tensor,
    context: Tensor,
    *,
    steps: int,
    guidance: float,
    uncond_context: Tensor | None = None,
    guidance_embedded: bool = False,
    skip_last_call: bool = False,
    progress: Progress | None = None,
) -> Tensor:
    """Integrate the velocity field from ``noise`` (sigma 0) to data latents (sigma 1).

    Classifier-free guidance follows the release's rule: it is on whenever ``guidance >= 0``
    and the model is not guidance-embedded, so guidance 1.0 still runs the
    [cond, uncond] batch and a negative guidance means "condition only". A
    guidance-embedded ("fast") model gets ``guidance`` as a ``[B]`` tensor instead.

    ``steps`` model calls make ``steps - 1`` Euler steps, because the release's last
    interval has zero length; ``skip_last_call`` drops that call and returns identical
    latents. Cancellation is checked before the first call and after every step.
    """
    _check_steps(steps)
    if noise.ndim != 3:
        raise ValueError(f"noise must be [batch, num_latents, channels], got shape {list(noise.shape)}")
    if context.ndim != 3 or context.shape[0] != noise.shape[0]:
        raise ValueError(
            f"context must be [batch, tokens, width] with the noise's batch size {noise.shape[0]}, "
            f"got shape {list(context.shape)}"
        )
    progress = progress if progress is not None else Progress()

    use_cfg = not guidance_embedded and guidance >= 0
    if use_cfg:
        if uncond_context is None:
            uncond_context = torch.zeros_like(context)
        elif uncond_context.shape != context.shape:
            raise ValueError(
                f"uncond_context must have the condition's shape {list(context.shape)}, "
                f"got {list(uncond_context.shape)}"
            )
        model_context = torch.cat([context, uncond_context])
    else:
        model_context = context

    guidance_values = None
    if guidance_embedded:
        guidance_values = torch.full(
            (noise.shape[0],), float(guidance), dtype=noise.dtype, device=noise.device
        )

    sigmas = flow_matching_sigmas(steps).to(noise.device)
    timesteps = sigmas[:-1] * NUM_TRAIN_TIMESTEPS
    calls = steps - 1 if skip_last_call and steps > 1 else steps

    progress.raise_if_cancelled()
    latents = noise
    with torch.no_grad():
        for i in range(calls):
            model_input = torch.cat([latents, latents]) if use_cfg else latents
            t = timesteps[i].expand(model_input.shape[0]).to(latents.dtype) / NUM_TRAIN_TIMESTEPS
            velocity = velocity_fn(model_input, t, model_context, guidance=guidance_values)
            if use_cfg:
                v_cond, v_uncond = velocity.chunk(2)
                velocity = v_uncond + guidance * (v_cond - v_uncond)
            # The release upcasts only the running sample; the step is rounded back to the
            # model's output dtype, which is the latents' own (devices.side_tensor_dtype).
            latents = (latents.to(torch.float32) + (sigmas[i + 1] - sigmas[i]) * velocity).to(velocity.dtype)
            progress.step(i + 1, calls)
    return latents
