"""A config.yaml of the wrong structure and a folder that lost the config.yaml of its
custom network are clear CheckpointErrors, not AttributeErrors or a silently wrong latent
count. (A single file without a config keeps the released count: that is how ComfyUI's
repackaged checkpoints come.)"""

import pytest
import yaml

from hy3d_core.demo import DEMO_MODEL_DIR
from hy3d_core.io.checkpoint_files import CheckpointError
from hy3d_core.io.shape_checkpoints import describe_checkpoint, load_shape_model
from tiny_checkpoints import demo_model_copy


@pytest.mark.parametrize("section", ["model", "vae", "conditioner", "image_processor"])
@pytest.mark.parametrize("value", [12, ["a", "list"], "text"], ids=["int", "list", "str"])
def test_a_section_of_the_wrong_type_is_a_checkpoint_error(tmp_path, section, value):
    config = yaml.safe_load((DEMO_MODEL_DIR / "config.yaml").read_text())
    config[section] = value
    folder = demo_model_copy(tmp_path / "model", config)
    with pytest.raises(CheckpointError, match="config.yaml") as caught:
        describe_checkpoint(folder)
    assert "\n" not in str(caught.value)


def test_a_config_less_custom_network_does_not_guess_its_latent_count(tmp_path):
    folder = demo_model_copy(tmp_path / "model", None)
    model = load_shape_model(folder, parts=("vae",))
    assert model.configs.config_source == "tensor shapes"
    with pytest.raises(CheckpointError, match="latent count .* unknown; put the config.yaml .* "
                                               "back into the folder"):
        model.configs.num_latents
    assert any("latent count unknown" in note for note in model.configs.notes)


def test_a_single_file_keeps_the_released_latent_count(tmp_path):
    folder = demo_model_copy(tmp_path / "model", None)
    model = load_shape_model(folder / "model.fp16.safetensors", parts=("vae",))
    assert model.configs.num_latents == 3072
    assert any("3072 latents assumed" in note for note in model.configs.notes)


def test_the_demo_model_with_its_config_knows_its_latent_count(tmp_path):
    config = yaml.safe_load((DEMO_MODEL_DIR / "config.yaml").read_text())
    model = load_shape_model(demo_model_copy(tmp_path / "model", config), parts=("vae",))
    assert model.configs.num_latents == 128
