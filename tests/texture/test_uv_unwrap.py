"""UV unwrap with xatlas: per-vertex UVs, geometry kept, seams re-welded, crashes contained."""

import sys
import time

import numpy as np
import pytest
import torch
import trimesh

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.render.torch_rasterizer import TorchRasterizer
from hy3d_core.sampling.progress import Cancelled, Progress
from hy3d_core.texture import xatlas_jobs
from hy3d_core.texture.uv_raster import chart_mask
from hy3d_core.texture.uv_unwrap import UnwrapOptions, UVUnwrapError, unwrap_uv, unwrap_uv_detailed


def ball() -> Mesh:
    sphere = trimesh.creation.icosphere(subdivisions=2)
    return Mesh(sphere.vertices, sphere.faces, vertex_normals=sphere.vertex_normals)


def uv_areas(mesh: Mesh) -> np.ndarray:
    a, b, c = (mesh.uvs[mesh.faces[:, k]] for k in range(3))
    cross = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    return 0.5 * np.abs(cross)


def test_per_vertex_uvs_on_the_same_surface():
    mesh = ball()
    result = unwrap_uv_detailed(mesh)
    unwrapped = result.mesh
    assert result.chart_count >= 1 and 0.3 < result.utilization <= 1.0
    assert len(unwrapped.faces) == len(mesh.faces)
    assert len(unwrapped.vertices) > len(mesh.vertices)  # split along seams
    assert unwrapped.uvs.shape == (len(unwrapped.vertices), 2)
    assert unwrapped.uvs.min() >= 0.0 and unwrapped.uvs.max() <= 1.0
    # same triangles, in the same order, with the normals carried along
    assert np.array_equal(unwrapped.vertices[unwrapped.faces], mesh.vertices[mesh.faces])
    assert np.array_equal(unwrapped.vertex_normals[unwrapped.faces],
                          mesh.vertex_normals[mesh.faces])
    # charts do not overlap: the texels inside them match their total area
    size = 256
    texels = chart_mask(torch.from_numpy(unwrapped.uvs), torch.from_numpy(unwrapped.faces),
                        size, TorchRasterizer()).sum()
    assert texels == pytest.approx(uv_areas(unwrapped).sum() * size * size, rel=0.03)


def test_existing_uvs_kept_or_replaced():
    first = unwrap_uv(ball())
    textured = Mesh(first.vertices, first.faces, uvs=first.uvs,
                    texture=np.full((8, 8, 3), 0.5, dtype=np.float32))
    kept = unwrap_uv_detailed(textured, keep_existing=True)
    assert kept.kept_existing and np.array_equal(kept.mesh.uvs, first.uvs)
    assert kept.mesh.texture is not None
    again = unwrap_uv_detailed(textured)
    assert not again.kept_existing and again.mesh.texture is None
    # the old seams' vertex copies are welded first, so the new layout is the same as
    # unwrapping the original mesh (xatlas is deterministic)
    assert len(again.mesh.vertices) == len(first.vertices)
    assert np.array_equal(again.mesh.uvs, first.uvs)


def test_options_are_checked():
    with pytest.raises(ValueError, match="padding"):
        UnwrapOptions(padding=-1)
    with pytest.raises(ValueError, match="max_cost"):
        UnwrapOptions(max_cost=0.0)
    with pytest.raises(ValueError, match="faces"):
        unwrap_uv(Mesh(np.zeros((3, 3)), np.zeros((0, 3), dtype=np.int64)))


@pytest.fixture
def fake_worker(tmp_path, monkeypatch):
    """Replace the xatlas child by a script that crashes ``crashes`` times, then runs the
    real worker, counting its starts."""

    def install(crashes: int, sleep: float = 0.0):
        counter = tmp_path / "starts"
        counter.unlink(missing_ok=True)
        script = tmp_path / "worker.py"
        script.write_text(
            "import os, runpy, signal, sys, time\n"
            f"counter = {str(counter)!r}\n"
            "starts = int(open(counter).read()) + 1 if os.path.exists(counter) else 1\n"
            "open(counter, 'w').write(str(starts))\n"
            f"time.sleep({sleep})\n"
            f"if starts <= {crashes}:\n"
            "    os.kill(os.getpid(), signal.SIGSEGV)\n"
            f"sys.argv[0] = {str(xatlas_jobs.WORKER)!r}\n"
            f"runpy.run_path({str(xatlas_jobs.WORKER)!r}, run_name='__main__')\n"
        )
        monkeypatch.setattr(xatlas_jobs, "WORKER", script)
        return lambda: int(counter.read_text())

    return install


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_a_crash_is_retried_once_then_reported(fake_worker):
    starts = fake_worker(crashes=1)
    result = unwrap_uv(ball())
    assert starts() == 2 and result.uvs is not None
    starts = fake_worker(crashes=5)
    with pytest.raises(UVUnwrapError, match="xatlas crashed .*signal 11.*twice"):
        unwrap_uv(ball())
    assert starts() == 2


def test_cancelling_stops_the_child(fake_worker):
    fake_worker(crashes=0, sleep=30.0)
    started = time.monotonic()
    with pytest.raises(Cancelled):
        unwrap_uv(ball(), progress=Progress(should_cancel=lambda: True))
    assert time.monotonic() - started < 10.0
