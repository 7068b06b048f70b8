"""torch's CPU norm kernels on bfloat16 inputs and weights take their statistics in float32
(hy3d_core/models/__init__.py relies on it instead of upcasting by hand): the output is
within one bfloat16 step of the float32 result rounded, on inputs whose mean is 200
standard deviations from zero, where statistics held in bfloat16 are visibly off."""

import pytest
import torch
import torch.nn.functional as F

WIDTH = 1024


def _inputs():
    generator = torch.Generator().manual_seed(0)
    x = (torch.randn(16, WIDTH, generator=generator) * 0.5 + 100.0).bfloat16()
    weight = (torch.rand(WIDTH, generator=generator) + 0.5).bfloat16()
    bias = torch.randn(WIDTH, generator=generator).bfloat16()
    return x, weight, bias


def _layer_norm(x, weight, bias):
    return F.layer_norm(x, (WIDTH,), weight, bias, 1e-6)


def _group_norm(x, weight, bias):
    return F.group_norm(x.reshape(16, 32, WIDTH // 32), 8, weight[:32], bias[:32], 1e-6).reshape(16, WIDTH)


def _rms_norm(x, weight, bias):
    return F.rms_norm(x, (WIDTH,), weight, 1e-6)


def _bfloat16_statistics_layer_norm(x, weight, bias):
    """A LayerNorm whose mean and variance are held in bfloat16: what the test tells apart."""
    mean = x.float().mean(-1, keepdim=True).bfloat16()
    centred = x - mean
    variance = centred.float().pow(2).mean(-1, keepdim=True).bfloat16()
    return (centred * torch.rsqrt(variance + 1e-6)) * weight + bias


def _within_one_step(result, reference):
    """|result - reference| <= one bfloat16 step (2**-7 relative) of the reference, plus 2**-7."""
    step = reference.abs() * 2.0 ** -7 + 2.0 ** -7
    return bool(((result.float() - reference).abs() <= step).all())


@pytest.mark.parametrize("norm", [_layer_norm, _group_norm, _rms_norm])
def test_bfloat16_norms_take_their_statistics_in_float32(norm):
    x, weight, bias = _inputs()
    result = norm(x, weight, bias)
    assert result.dtype == torch.bfloat16
    assert _within_one_step(result, norm(x.float(), weight.float(), bias.float()))


def test_statistics_in_bfloat16_would_fail_that_check():
    x, weight, bias = _inputs()
    reference = _layer_norm(x.float(), weight.float(), bias.float())
    assert not _within_one_step(_bfloat16_statistics_layer_norm(x, weight, bias), reference)
