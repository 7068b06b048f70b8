"""Fixtures every node test module shares."""

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from threads; on a busy machine the pool's waits dominate."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def folders(models_dir, tmp_path, monkeypatch):
    """The module's ``models_dir`` as the nodes' model folder, with fresh input and output
    folders in ``tmp_path``."""
    monkeypatch.setenv("HY3D_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("HY3D_INPUT_DIR", str(tmp_path / "input"))
    monkeypatch.setenv("HY3D_OUTPUT_DIR", str(tmp_path / "output"))
    (tmp_path / "input").mkdir()
    return tmp_path
