"""The README's quick start stays true: its main-job command runs as written from a copy
of the checkout's layout and writes its mesh where git ignores it, and its set-up names
PyTorch's CPU build for machines without a GPU."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import trimesh

from hy3d_core.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]
CPU_WHEELS = "--index-url https://download.pytorch.org/whl/cpu"


def _quick_start_block() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def _main_job() -> list[str]:
    """The ``python -m hy3d_core generate`` command of the quick start, as argv."""
    (line,) = [line for line in _quick_start_block().splitlines() if "python -m hy3d_core generate" in line]
    (command,) = [part for part in line.split("&&") if "python -m hy3d_core generate" in part]
    return shlex.split(command)


def test_the_set_up_installs_the_cpu_build_of_torch():
    installs = [line for line in _quick_start_block().splitlines() if line.startswith("pip install torch")]
    assert installs and all(CPU_WHEELS in line for line in installs)


def test_the_main_job_writes_where_git_ignores_it():
    out = _main_job()[_main_job().index("--out") + 1]
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", out], cwd=REPO_ROOT)
    assert ignored.returncode == 0, f"{out} would show up as a new file in the checkout"


@pytest.mark.slow
def test_the_main_job_runs_as_written(tmp_path, monkeypatch):
    """From a folder laid out like the checkout (examples/ linked in), without an output
    folder: the command makes it."""
    (tmp_path / "examples").symlink_to(REPO_ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    argv = _main_job()
    assert argv[:3] == ["python", "-m", "hy3d_core"]
    assert main(argv[3:]) == 0
    out = tmp_path / argv[argv.index("--out") + 1]
    mesh = trimesh.load(out, force="mesh")
    assert len(mesh.faces) > 1000 and mesh.visual.material.baseColorTexture is not None
