"""The flow-matching sampler: the release's schedule and loop, speed-ups, progress, cancel."""

import numpy as np
import pytest
import torch
from torch import nn

from hy3d_core.sampling.flow_matching import (
    flow_matching_sigmas,
    initial_noise,
    sample_flow_matching,
)
from hy3d_core.sampling.progress import Cancelled, Progress
from oracle import import_oracle

NUM_LATENTS, CHANNELS, TOKENS = 6, 8, 5


class ToyVelocity(nn.Module):
    """A deterministic velocity that depends on x, t, the context and the guidance value,
    called the way the release calls its DiT: ``(x, t, {"main": context}, guidance=...)``."""

    def __init__(self, guidance_embed: bool = False):
        super().__init__()
        generator = torch.Generator().manual_seed(3)
        self.weight = nn.Parameter(torch.randn(CHANNELS, CHANNELS, generator=generator) / CHANNELS**0.5)
        self.guidance_embed = guidance_embed
        self.calls = []

    def forward(self, x, t, cond, guidance=None):
        context = cond["main"]
        self.calls.append((x.shape[0], t.clone(), None if guidance is None else guidance.clone()))
        v = torch.tanh(x @ self.weight.to(x.dtype)) * (1 + t)[:, None, None] + context.mean(dim=1, keepdim=True)
        if guidance is not None:
            v = v * guidance[:, None, None]
        return v

    def as_velocity_fn(self):
        return lambda x, t, context, guidance=None: self(x, t, {"main": context}, guidance=guidance)


def _contexts(dtype):
    generator = torch.Generator().manual_seed(11)
    return [torch.randn(TOKENS, CHANNELS, generator=generator).to(dtype) for _ in range(2)]


def _oracle_pipeline(model, dtype):
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.pipelines import Hunyuan3DDiTFlowMatchingPipeline
    from hy3dgen.shapegen.schedulers import FlowMatchEulerDiscreteScheduler

    class LatentShapeOnly(nn.Module):
        latent_shape = (NUM_LATENTS, CHANNELS)

    class ContextAsCondition(nn.Module):
        def forward(self, image, **_):
            return {"main": image}

        def unconditional_embedding(self, batch_size, **_):
            return {"main": torch.zeros(batch_size, TOKENS, CHANNELS, dtype=dtype)}

    return Hunyuan3DDiTFlowMatchingPipeline(
        vae=LatentShapeOnly(),
        model=model,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0),
        conditioner=ContextAsCondition(),
        image_processor=lambda image: {"image": image[None]},
        device="cpu",
        dtype=dtype,
    )


@pytest.mark.oracle
@pytest.mark.parametrize("steps", [1, 2, 5, 30, 50])
def test_sigmas_are_the_schedulers(steps):
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.pipelines import retrieve_timesteps
    from hy3dgen.shapegen.schedulers import FlowMatchEulerDiscreteScheduler

    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
    timesteps, _ = retrieve_timesteps(scheduler, steps, "cpu", sigmas=np.linspace(0, 1, steps))
    sigmas = flow_matching_sigmas(steps)
    assert sigmas.dtype == torch.float32
    assert torch.equal(sigmas, scheduler.sigmas)
    assert torch.equal(sigmas[:-1] * 1000, timesteps)


@pytest.mark.oracle
@pytest.mark.parametrize(
    "dtype, guidance, embedded",
    [
        (torch.float32, 5.0, False),
        (torch.bfloat16, 5.0, False),
        (torch.float32, 1.0, False),
        (torch.float32, -1.0, False),
        (torch.float32, 3.0, True),
    ],
    ids=["cfg", "cfg-bf16", "guidance-1-still-cfg", "negative-no-cfg", "guidance-embedded"],
)
@pytest.mark.parametrize("skip_last_call", [False, True])
def test_matches_the_release_pipeline(dtype, guidance, embedded, skip_last_call):
    steps, seed = 50, 1234  # 50 steps: where sigma*1000/1000 differs from sigma in float32 too
    model = ToyVelocity(guidance_embed=embedded)
    pipeline = _oracle_pipeline(model, dtype)
    contexts = _contexts(dtype)
    expected = pipeline(
        image=contexts, num_inference_steps=steps, guidance_scale=guidance,
        generator=torch.Generator("cpu").manual_seed(seed), output_type="latent", enable_pbar=False,
    )
    expected_calls, model.calls = model.calls, []

    latents = sample_flow_matching(
        model.as_velocity_fn(), initial_noise(2, NUM_LATENTS, CHANNELS, seed, dtype, "cpu"),
        torch.stack(contexts), steps=steps, guidance=guidance, guidance_embedded=embedded,
        skip_last_call=skip_last_call,
    )

    assert latents.dtype == expected.dtype == dtype
    assert torch.equal(latents, expected)
    assert len(model.calls) == len(expected_calls) - skip_last_call
    for (batch, t, g), (ref_batch, ref_t, ref_g) in zip(model.calls, expected_calls):
        assert batch == ref_batch
        assert t.dtype == ref_t.dtype and torch.equal(t, ref_t)
        assert (g is None and ref_g is None) or torch.equal(g, ref_g)


@pytest.mark.parametrize("guidance", [-1.0, 0.0, 4.0])
def test_constant_velocity_lands_on_the_closed_form(guidance):
    """Euler steps over [0, 1] move a constant velocity field by exactly one velocity."""
    generator = torch.Generator().manual_seed(5)
    v_cond = torch.randn(2, NUM_LATENTS, CHANNELS, generator=generator)
    v_uncond = torch.randn(2, NUM_LATENTS, CHANNELS, generator=generator)
    context = torch.ones(2, TOKENS, CHANNELS)

    def velocity(x, t, ctx, guidance=None):
        is_cond = (ctx[:, :1, :1] != 0).to(x.dtype)
        cond_rows = torch.cat([v_cond, v_cond])[: x.shape[0]]
        uncond_rows = torch.cat([v_uncond, v_uncond])[: x.shape[0]]
        return is_cond * cond_rows + (1 - is_cond) * uncond_rows

    noise = initial_noise(2, NUM_LATENTS, CHANNELS, 0, torch.float32, "cpu")
    latents = sample_flow_matching(velocity, noise, context, steps=7, guidance=guidance)
    expected_velocity = v_cond if guidance < 0 else v_uncond + guidance * (v_cond - v_uncond)
    torch.testing.assert_close(latents, noise + expected_velocity, atol=1e-5, rtol=1e-5)


def test_skip_last_call_gives_identical_latents_with_one_fewer_call():
    results = {}
    for skip in (False, True):
        model = ToyVelocity()
        results[skip] = sample_flow_matching(
            model.as_velocity_fn(), initial_noise(2, NUM_LATENTS, CHANNELS, 9, torch.float16, "cpu"),
            torch.stack(_contexts(torch.float16)), steps=8, guidance=5.0, skip_last_call=skip,
        ), len(model.calls)
    assert torch.equal(results[True][0], results[False][0])
    assert results[False][1] == 8 and results[True][1] == 7


def test_one_step_is_a_whole_step_even_when_skipping():
    """With one step the only interval is [0, 1]: nothing may be skipped."""
    model = ToyVelocity()
    noise = initial_noise(1, NUM_LATENTS, CHANNELS, 1, torch.float32, "cpu")
    latents = sample_flow_matching(model.as_velocity_fn(), noise, torch.ones(1, TOKENS, CHANNELS),
                                   steps=1, guidance=2.0, skip_last_call=True)
    assert len(model.calls) == 1
    assert not torch.equal(latents, noise)


def test_progress_is_reported_once_per_step():
    reports = []
    sample_flow_matching(
        ToyVelocity().as_velocity_fn(), initial_noise(1, NUM_LATENTS, CHANNELS, 0, torch.float32, "cpu"),
        torch.ones(1, TOKENS, CHANNELS), steps=5, guidance=5.0,
        progress=Progress(callback=lambda done, total: reports.append((done, total))),
    )
    assert reports == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


@pytest.mark.parametrize("cancel_after", [0, 3])
def test_cancel_stops_before_the_next_model_call(cancel_after):
    model = ToyVelocity()
    with pytest.raises(Cancelled):
        sample_flow_matching(
            model.as_velocity_fn(), initial_noise(1, NUM_LATENTS, CHANNELS, 0, torch.float32, "cpu"),
            torch.ones(1, TOKENS, CHANNELS), steps=10, guidance=5.0,
            progress=Progress(should_cancel=lambda: len(model.calls) >= cancel_after),
        )
    assert len(model.calls) == cancel_after


def test_guidance_embedded_model_gets_guidance_and_no_cfg_batch():
    model = ToyVelocity(guidance_embed=True)
    sample_flow_matching(
        model.as_velocity_fn(), initial_noise(2, NUM_LATENTS, CHANNELS, 0, torch.float16, "cpu"),
        torch.ones(2, TOKENS, CHANNELS, dtype=torch.float16), steps=3, guidance=4.5,
        guidance_embedded=True,
    )
    for batch, t, guidance in model.calls:
        assert batch == 2 and t.shape == (2,)
        assert guidance.dtype == torch.float16 and guidance.tolist() == [4.5, 4.5]


def test_initial_noise_is_the_cpu_generators_float32_draw():
    expected = torch.randn([2, NUM_LATENTS, CHANNELS], generator=torch.Generator("cpu").manual_seed(42))
    noise = initial_noise(2, NUM_LATENTS, CHANNELS, 42, torch.bfloat16, "cpu")
    assert noise.dtype == torch.bfloat16 and noise.shape == (2, NUM_LATENTS, CHANNELS)
    assert torch.equal(noise, expected.to(torch.bfloat16))
    assert torch.equal(initial_noise(2, NUM_LATENTS, CHANNELS, 42, torch.float32, "cpu"), expected)
    assert not torch.equal(initial_noise(2, NUM_LATENTS, CHANNELS, 43, torch.float32, "cpu"), expected)


def test_bad_inputs_are_reported_clearly():
    fn = ToyVelocity().as_velocity_fn()
    noise = initial_noise(2, NUM_LATENTS, CHANNELS, 0, torch.float32, "cpu")
    context = torch.ones(2, TOKENS, CHANNELS)
    with pytest.raises(ValueError, match="steps"):
        sample_flow_matching(fn, noise, context, steps=0, guidance=5.0)
    with pytest.raises(ValueError, match="context"):
        sample_flow_matching(fn, noise, context[:1], steps=2, guidance=5.0)
    with pytest.raises(ValueError, match="uncond_context"):
        sample_flow_matching(fn, noise, context, steps=2, guidance=5.0, uncond_context=context[:, :2])
    with pytest.raises(ValueError, match="seed"):
        initial_noise(1, NUM_LATENTS, CHANNELS, 2**64, torch.float32, "cpu")
