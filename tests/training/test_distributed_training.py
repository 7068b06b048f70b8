"""Two CPU processes (gloo) train in data parallel through DistributedDataParallel: both
end with the same weights, and those equal one process training on both ranks' data."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hy3d_core.training.trainer import TrainingSettings, run_training

# Four items, two per rank per step: every step covers the whole dataset on both layouts.
DISTRIBUTED = TrainingSettings(steps=5, batch_size=2, lr=0.05, save_every=2, seed=1)
SINGLE = TrainingSettings(steps=5, batch_size=4, lr=0.05, save_every=2, seed=1)


def _train_rank(rank: int, world_size: int, init_file: str, run_dir: str, tests_dir: str) -> None:
    sys.path.insert(0, tests_dir)
    from toy_training import LinearDataset, LinearObjective

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world_size)
    try:
        objective = LinearObjective(noise=0.0)
        run_training(objective, LinearDataset(count=4), run_dir, DISTRIBUTED, arguments={})
        torch.save(objective.state_dict(), Path(run_dir).parent / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_train_in_data_parallel(tmp_path):
    from toy_training import LinearDataset, LinearObjective

    tests_dir = str(Path(__file__).resolve().parents[1])
    mp.spawn(_train_rank, args=(2, str(tmp_path / "init"), str(tmp_path / "run"), tests_dir),
             nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt")
    rank1 = torch.load(tmp_path / "rank1.pt")
    single = LinearObjective(noise=0.0)
    run_training(single, LinearDataset(count=4), tmp_path / "single", SINGLE, arguments={})
    for name, value in rank0.items():
        assert torch.equal(value, rank1[name]), name
        torch.testing.assert_close(value, single.state_dict()[name], rtol=1e-5, atol=1e-6)
    assert not torch.equal(rank0["linear.weight"], LinearObjective().linear.weight)
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert checkpoint["step"] == 5 and checkpoint["arguments"]["world_size"] == 2
