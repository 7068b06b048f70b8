"""The shared training loop: loss log, checkpoints, resume, cancel, warm-up, refusals."""

import csv

import pytest
import torch
from toy_training import LinearDataset, LinearObjective

from hy3d_core.sampling.progress import Cancelled, Progress
from hy3d_core.training.trainer import TrainingSettings, run_training

SETTINGS = TrainingSettings(steps=12, batch_size=3, lr=0.05, warmup_steps=4, save_every=5, seed=3)


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_training_fits_logs_every_step_and_reports_progress(tmp_path):
    objective = LinearObjective()
    reports = []
    last = run_training(objective, LinearDataset(), tmp_path, SETTINGS, arguments={"job": "toy"},
                        progress=Progress(lambda done, total: reports.append((done, total))))
    assert last == 12
    assert reports == [(step, 12) for step in range(1, 13)]
    rows = _rows(tmp_path / "loss_log.csv")
    assert list(rows[0]) == ["step", "total", "squared_error", "lr", "seconds"]
    assert [int(row["step"]) for row in rows] == list(range(1, 13))
    assert [float(row["lr"]) for row in rows[:5]] == pytest.approx([0.0125, 0.025, 0.0375, 0.05, 0.05])
    first, final = float(rows[0]["total"]), float(rows[-1]["total"])
    assert final < first / 2
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert checkpoint["step"] == 12 and checkpoint["arguments"]["job"] == "toy"
    assert torch.equal(checkpoint["model"]["linear.weight"], objective.linear.weight)


def test_resume_after_cancel_matches_an_uninterrupted_run(tmp_path):
    straight = LinearObjective()
    run_training(straight, LinearDataset(), tmp_path / "straight", SETTINGS, arguments={})

    interrupted = LinearObjective()
    done = [0]
    stop_after_seven = Progress(callback=lambda step, total: done.__setitem__(0, step),
                                should_cancel=lambda: done[0] >= 7)
    with pytest.raises(Cancelled):
        run_training(interrupted, LinearDataset(), tmp_path / "split", SETTINGS, arguments={},
                     progress=stop_after_seven)
    saved = torch.load(tmp_path / "split" / "checkpoint.pt", weights_only=False)
    assert saved["step"] == 7, "a cancel saves the step it stopped after"

    resumed = LinearObjective()
    assert run_training(resumed, LinearDataset(), tmp_path / "split", SETTINGS, arguments={},
                        resume=True) == 12
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name
    straight_log = _rows(tmp_path / "straight" / "loss_log.csv")
    split_log = _rows(tmp_path / "split" / "loss_log.csv")
    assert [row["total"] for row in split_log] == [row["total"] for row in straight_log]


def test_resume_drops_log_rows_written_after_the_checkpoint(tmp_path):
    run_training(LinearObjective(), LinearDataset(), tmp_path, SETTINGS, arguments={})
    log = tmp_path / "loss_log.csv"
    with open(log, "a", newline="") as handle:
        csv.writer(handle).writerow([13, 9.0, 9.0, 0.05, 1.0])
    longer = TrainingSettings(**{**SETTINGS.__dict__, "steps": 14})
    run_training(LinearObjective(), LinearDataset(), tmp_path, longer, arguments={}, resume=True)
    assert [int(row["step"]) for row in _rows(log)] == list(range(1, 15))
    assert float(_rows(log)[12]["total"]) != 9.0


def test_resume_refuses_different_settings_and_missing_checkpoints(tmp_path):
    run_training(LinearObjective(), LinearDataset(), tmp_path, SETTINGS, arguments={"width": 8})
    with pytest.raises(ValueError, match="width: saved 8, now 16"):
        run_training(LinearObjective(), LinearDataset(), tmp_path, SETTINGS,
                     arguments={"width": 16}, resume=True)
    other_lr = TrainingSettings(**{**SETTINGS.__dict__, "lr": 0.1})
    with pytest.raises(ValueError, match="lr"):
        run_training(LinearObjective(), LinearDataset(), tmp_path, other_lr,
                     arguments={"width": 8}, resume=True)
    with pytest.raises(FileExistsError, match="already holds a training run"):
        run_training(LinearObjective(), LinearDataset(), tmp_path, SETTINGS, arguments={"width": 8})
    with pytest.raises(FileNotFoundError, match="cannot resume"):
        run_training(LinearObjective(), LinearDataset(), tmp_path / "new", SETTINGS,
                     arguments={}, resume=True)


def test_gradients_are_clipped_before_the_update(tmp_path):
    clipped = TrainingSettings(steps=1, batch_size=8, lr=1e-3, max_grad_norm=1e-3)
    objective = LinearObjective(noise=0.0)
    run_training(objective, LinearDataset(), tmp_path, clipped, arguments={})
    # The last step's gradients stay on the parameters, as clipped.
    norm = torch.cat([p.grad.flatten() for p in objective.parameters()]).norm()
    assert norm == pytest.approx(1e-3, rel=1e-4)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="steps"):
        TrainingSettings(steps=0, batch_size=1, lr=1e-3)
    with pytest.raises(ValueError, match="lr"):
        TrainingSettings(steps=1, batch_size=1, lr=0.0)
    with pytest.raises(ValueError, match="final_lr_fraction"):
        TrainingSettings(steps=1, batch_size=1, lr=1e-3, final_lr_fraction=1.5)


def test_cosine_decay_falls_from_the_peak_to_the_final_fraction_at_the_last_step():
    settings = TrainingSettings(steps=11, batch_size=1, lr=0.4, warmup_steps=2,
                                final_lr_fraction=0.1)
    rates = [settings.learning_rate(step) for step in range(settings.steps)]
    assert rates[:3] == pytest.approx([0.2, 0.4, 0.4])
    assert rates[-1] == pytest.approx(0.04)
    # Halfway through the decay the cosine is at its midpoint.
    assert rates[2 + 4] == pytest.approx(0.04 + (0.4 - 0.04) / 2)
    assert all(later <= earlier for earlier, later in zip(rates[1:], rates[2:]))


def test_a_decaying_run_resumes_only_with_the_same_number_of_steps(tmp_path):
    decaying = TrainingSettings(steps=6, batch_size=3, lr=0.05, final_lr_fraction=0.1,
                                save_every=3)
    run_training(LinearObjective(), LinearDataset(), tmp_path, decaying, arguments={})
    longer = TrainingSettings(steps=9, batch_size=3, lr=0.05, final_lr_fraction=0.1,
                              save_every=3)
    with pytest.raises(ValueError, match="steps: saved 6, now 9"):
        run_training(LinearObjective(), LinearDataset(), tmp_path, longer, arguments={},
                     resume=True)
