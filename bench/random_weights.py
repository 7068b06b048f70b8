"""Random weights for full-size benchmark networks, drawn in place.

A network is built on the meta device (no memory, no slow default initialisation) and
its tensors are drawn here directly on the target device, in the dtype they were built
in: matrices N(0, 1/fan_in), so activations stay of order one through deep stacks;
1-D scales 1 and biases 0. Timing does not depend on the values; finite, well-scaled
activations keep denormals and NaNs out of it.
"""

from __future__ import annotations

import torch


def fill_random_(module: torch.nn.Module, seed: int, device: str | torch.device = "cpu") -> torch.nn.Module:
    """``module`` (built on the meta device) materialised on ``device`` with random
    weights, in eval mode."""
    module = module.to_empty(device=device)
    generator = torch.Generator(device).manual_seed(seed)
    with torch.no_grad():
        for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
            if not tensor.is_floating_point():
                continue
            if tensor.ndim >= 2:
                tensor.normal_(0.0, tensor.shape[-1] ** -0.5, generator=generator)
            elif name.endswith("bias"):
                tensor.zero_()
            else:
                tensor.fill_(1.0)
    return module.eval()
