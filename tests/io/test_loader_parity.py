"""Weights written by the reference implementation, read back by our loader, give the
reference's outputs: the whole path a user's downloaded file takes."""

import pytest
import torch

from hy3d_core.io.shape_checkpoints import load_shape_model
from oracle import import_oracle
from tiny_checkpoints import combined_state_dict, tiny_yaml, write_official_folder

pytestmark = pytest.mark.oracle


def _randomise(module):
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    return module


@pytest.fixture(scope="module", params=[False, True], ids=["v2-0", "guidance-embedded"])
def released_pair(request, tmp_path_factory):
    import_oracle("hy3dgen.shapegen")
    from hy3dgen.shapegen.models import Hunyuan3DDiT, ShapeVAE, SingleImageEncoder

    config = tiny_yaml(guidance_embed=request.param)
    reference = {
        "dit": _randomise(Hunyuan3DDiT(**config["model"]["params"])).eval(),
        "vae": _randomise(ShapeVAE(**config["vae"]["params"])).eval(),
        "conditioner": _randomise(SingleImageEncoder(**config["conditioner"]["params"])).eval(),
    }
    state = combined_state_dict(
        reference["dit"].state_dict(),
        reference["vae"].state_dict(),
        reference["conditioner"].state_dict(),
    )
    folder = write_official_folder(
        tmp_path_factory.mktemp("release") / "hunyuan3d-dit-v2-0", state, config, dtype=torch.float32
    )
    return reference, load_shape_model(folder, dtype=torch.float32)


def test_dit_matches_reference(released_pair):
    reference, ours = released_pair
    generator = torch.Generator().manual_seed(2)
    latents = torch.randn(2, 16, 8, generator=generator)
    context = torch.randn(2, 10, 32, generator=generator)
    t = torch.tensor([0.25, 0.8])
    guidance = torch.tensor([5.0, 2.0]) if ours.configs.guidance_embedded else None
    with torch.no_grad():
        expected = reference["dit"](latents, t, {"main": context}, guidance=guidance)
        got = ours.dit(latents, t, context, guidance=guidance)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_vae_matches_reference(released_pair):
    reference, ours = released_pair
    generator = torch.Generator().manual_seed(3)
    latents = torch.randn(2, 32, 8, generator=generator)
    points = torch.rand(2, 100, 3, generator=generator) * 2 - 1
    with torch.no_grad():
        decoded_expected = reference["vae"](latents)
        logits_expected = reference["vae"].geo_decoder(queries=points, latents=decoded_expected)
        decoded = ours.vae.decode(latents)
        logits = ours.vae.occupancy(points, decoded)
    torch.testing.assert_close(decoded, decoded_expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logits, logits_expected.squeeze(-1), rtol=1e-5, atol=1e-5)


def test_conditioner_matches_reference(released_pair):
    reference, ours = released_pair
    image = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(4)) * 2 - 1
    with torch.no_grad():
        expected = reference["conditioner"](image=image)["main"]
        got = ours.conditioner(image)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
