"""Resuming reads ``checkpoint.pt`` with ``weights_only=True``: a planted pickle is refused
with a one-line error and its code never runs; every job's real checkpoint still loads.
Saving one on a full disk is a one-line error too."""

import errno
import pathlib
import pickle

import pytest
import torch
from tiny_training_data import write_prepared_folder
from toy_training import LinearDataset, LinearObjective

from hy3d_core.cli import main
from hy3d_core.io.atomic_files import OutputWriteError
from hy3d_core.io.checkpoint_files import CheckpointError
from hy3d_core.training.trainer import TrainingSettings, run_training

VAE_SPEC = "tiny:num_latents=32,pc_size=128,pc_sharpedge_size=64,downsample_ratio=2,width=32,heads=2"
SETTINGS = TrainingSettings(steps=4, batch_size=2, lr=0.05, save_every=2, seed=1)


class _WritesMarker:
    """Unpickling this calls ``Path.write_text``: what a malicious checkpoint would do."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.write_text, (self.marker, "code ran")


def _plant(run_dir: pathlib.Path, marker: pathlib.Path) -> pathlib.Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "checkpoint.pt"
    torch.save({"version": 1, "step": 2, "payload": _WritesMarker(marker)}, path)
    return path


def test_the_planted_checkpoint_runs_code_when_unpickled_unsafely(tmp_path):
    marker = tmp_path / "marker.txt"
    path = _plant(tmp_path / "run", marker)
    with open(path, "rb") as handle:  # what weights_only=False did before the fix
        torch.load(handle, weights_only=False)
    assert marker.read_text() == "code ran"


def test_resume_refuses_a_planted_pickle_without_running_it(tmp_path):
    marker = tmp_path / "marker.txt"
    _plant(tmp_path / "run", marker)
    with pytest.raises(CheckpointError, match="cannot resume: .*checkpoint.pt") as caught:
        run_training(LinearObjective(), LinearDataset(), tmp_path / "run", SETTINGS,
                     arguments={}, resume=True)
    assert "\n" not in str(caught.value)
    assert "Unsupported global" in str(caught.value)
    assert "weights_only" not in str(caught.value), "no advice to load the file unsafely"
    assert not marker.exists()


def test_cli_resume_of_a_planted_pickle_prints_one_error_line(tmp_path, capsys):
    marker = tmp_path / "marker.txt"
    run_dir = tmp_path / "run"
    _plant(run_dir, marker)
    data = write_prepared_folder(tmp_path / "data")
    status = main(["train-vae", "--data", str(data), "--out", str(run_dir), "--steps", "2",
                   "--batch-size", "2", "--device", "cpu", "--config", VAE_SPEC, "--resume"])
    assert status == 2
    assert not marker.exists()
    error = capsys.readouterr().err
    assert error.startswith("error: cannot resume") and error.count("\n") == 1


@pytest.mark.parametrize("content", [b"", b"not a zip file", pickle.dumps([1, 2, 3], protocol=2)],
                         ids=["empty", "text", "plain-pickled-list"])
def test_resume_refuses_damaged_or_foreign_files_with_one_line(tmp_path, content):
    (tmp_path / "checkpoint.pt").write_bytes(content)
    with pytest.raises(CheckpointError, match="cannot resume") as caught:
        run_training(LinearObjective(), LinearDataset(), tmp_path, SETTINGS, arguments={},
                     resume=True)
    assert "\n" not in str(caught.value)


def test_a_saved_checkpoint_holds_only_what_weights_only_loading_accepts(tmp_path):
    run_training(LinearObjective(), LinearDataset(), tmp_path, SETTINGS,
                 arguments={"job": "toy", "sizes": (1, 2), "nested": {"depth": None}})
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4 and state["torch_rng"].dtype == torch.uint8
    longer = TrainingSettings(**{**SETTINGS.__dict__, "steps": 6})
    assert run_training(LinearObjective(), LinearDataset(), tmp_path, longer,
                        arguments={"job": "toy", "sizes": (1, 2), "nested": {"depth": None}},
                        resume=True) == 6


def test_a_full_disk_while_saving_a_checkpoint_is_one_line(tmp_path, monkeypatch):
    from hy3d_core.training import trainer

    def disk_full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(trainer.os, "fsync", disk_full)
    with pytest.raises(OutputWriteError, match="cannot write .*checkpoint.pt: No space left on "
                                               "device; the disk is full") as caught:
        run_training(LinearObjective(), LinearDataset(), tmp_path, SETTINGS, arguments={})
    assert "\n" not in str(caught.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["loss_log.csv"]
