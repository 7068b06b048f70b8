"""TensorFile: one lazy view over safetensors and torch checkpoints, clear errors."""

import pytest
import torch
from safetensors.torch import save_file

from hy3d_core.io.checkpoint_files import CheckpointError, TensorFile, split_parts


def _tensors():
    return {
        "model.a.weight": torch.arange(6, dtype=torch.float16).reshape(2, 3),
        "vae.b": torch.ones(4),
        "conditioner.c": torch.zeros(1, dtype=torch.bfloat16),
    }


def test_safetensors_table_of_contents_and_values(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file(_tensors(), str(path))
    tensors = TensorFile(path)
    assert set(tensors.keys()) == set(_tensors())
    assert tensors.info("model.a.weight").shape == (2, 3)
    assert tensors.info("model.a.weight").dtype == torch.float16
    assert tensors.info("conditioner.c").dtype == torch.bfloat16
    assert torch.equal(tensors.tensor("model.a.weight"), _tensors()["model.a.weight"])


def test_torch_checkpoint_is_flattened_to_release_names(tmp_path):
    path = tmp_path / "model.ckpt"
    nested = {"model": {"a.weight": torch.ones(2, 3)}, "vae": {"b": torch.zeros(4)}}
    torch.save(nested, path)
    tensors = TensorFile(path)
    assert sorted(tensors.keys()) == ["model.a.weight", "vae.b"]
    assert torch.equal(tensors.tensor("model.a.weight"), torch.ones(2, 3))


def test_split_parts_groups_by_first_component():
    parts = split_parts(list(_tensors()))
    assert parts == {"model": ["model.a.weight"], "vae": ["vae.b"], "conditioner": ["conditioner.c"]}


def test_truncated_safetensors_is_a_clear_error(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file(_tensors(), str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        TensorFile(path).tensor("model.a.weight")


def test_truncated_torch_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "model.ckpt"
    torch.save({"model": {"a": torch.ones(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        TensorFile(path)


def test_garbage_file_is_a_clear_error(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read as safetensors"):
        TensorFile(path)


def test_unsupported_suffix_and_missing_file(tmp_path):
    other = tmp_path / "model.onnx"
    other.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="unsupported checkpoint type"):
        TensorFile(other)
    with pytest.raises(CheckpointError, match="does not exist"):
        TensorFile(tmp_path / "absent.safetensors")


def test_torch_file_holding_no_state_dict(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.ones(3), path)
    with pytest.raises(CheckpointError, match="not a state dict"):
        TensorFile(path)
