"""The flow-matching sampler driving the Hunyuan3D 2.1 DiT reproduces Tencent's 2.1
pipeline step by step (4 steps, CFG 5.0) from the same starting noise.

The sampler hands the model ``timestep / 1000`` in [0, 1]; the 2.0 DiT multiplies by
1000 inside its time features and the 2.1 DiT uses the value as is, so one sampler
serves both.
"""

from __future__ import annotations

import torch

from hy3d_core.sampling.flow_matching import flow_matching_sigmas, sample_flow_matching
from shape21_fixture import load_dit
from shared_fixtures import SHAPE_21, load_reference

ATOL = 2e-4


def test_four_step_cfg_sampling_matches_the_2_1_pipeline():
    reference = load_reference(SHAPE_21)
    model = load_dit()
    trace = []
    model.register_forward_hook(lambda module, args, out: trace.append((args[0], args[1], out)))
    latents = sample_flow_matching(model, reference["pipeline_initial_noise"], reference["cond"],
                                   steps=4, guidance=5.0, uncond_context=reference["uncond"])

    assert len(trace) == len(reference["pipeline_trace"]) == 4
    for step, ((x, t, velocity), theirs) in enumerate(zip(trace, reference["pipeline_trace"])):
        torch.testing.assert_close(x, theirs["x"], atol=ATOL, rtol=0, msg=f"x at step {step}")
        torch.testing.assert_close(t, theirs["t"], atol=0, rtol=0, msg=f"t at step {step}")
        torch.testing.assert_close(velocity, theirs["noise_pred"], atol=ATOL, rtol=0,
                                   msg=f"noise_pred at step {step}")
    torch.testing.assert_close(latents, reference["pipeline_latents"], atol=ATOL, rtol=0)


def test_schedule_is_the_2_1_pipelines():
    reference = load_reference(SHAPE_21)
    sigmas = flow_matching_sigmas(4)
    assert torch.equal(sigmas, reference["pipeline_scheduler_sigmas"])
    assert torch.equal(sigmas[:-1] * 1000, reference["pipeline_scheduler_timesteps"])
