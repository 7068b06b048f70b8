"""UV unwrap with xatlas: per-vertex UVs, geometry kept, seams re-welded, crashes contained."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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

from blob_meshes import noisy_blob


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



def scaled_copy(mesh: Mesh, scale: float) -> Mesh:
    return Mesh(mesh.vertices * scale + 3.0 * scale, mesh.faces, vertex_normals=mesh.vertex_normals)


def test_the_layout_does_not_depend_on_the_mesh_scale():
    """On main a mesh scaled by 1e12 made xatlas run away with memory and one scaled by
    1e-4 packed into "0 atlases": xatlas's tolerances are absolute. The mesh now reaches
    it in a unit box, so scaling by a power of two (exact in floating point) near those
    sizes gives the very same layout."""
    mesh = noisy_blob(24)
    reference = unwrap_uv_detailed(scaled_copy(mesh, 1.0))
    assert reference.chart_count > 10 and reference.utilization > 0.5
    for scale in (2.0**40, 2.0**-13):
        scaled = scaled_copy(mesh, scale)
        result = unwrap_uv_detailed(scaled)
        assert result.chart_count == reference.chart_count
        assert result.utilization == reference.utilization
        assert np.array_equal(result.mesh.uvs, reference.mesh.uvs)
        # the positions stay in the mesh's own units
        assert np.array_equal(result.mesh.vertices[result.mesh.faces], scaled.vertices[scaled.faces])


def test_the_reported_scales_unwrap_like_the_unit_one():
    """The scales of the report, 1e12 and 1e-4, are not powers of two: the float32
    positions of a scaled Mesh differ from the unit one's in their last bits, and
    xatlas's chart growing is that sensitive (moving every vertex of this mesh by 1e-7
    of its size changes its charts by about 10-20 % and its coverage by up to 0.05), so
    the layouts agree within that spread."""
    mesh = noisy_blob(40)
    reference = unwrap_uv_detailed(scaled_copy(mesh, 1.0))
    for scale in (1e12, 1e-4):
        result = unwrap_uv_detailed(scaled_copy(mesh, scale))
        assert abs(result.chart_count - reference.chart_count) <= 0.35 * reference.chart_count
        assert result.utilization == pytest.approx(reference.utilization, abs=0.1)
        assert result.mesh.uvs.min() >= 0.0 and result.mesh.uvs.max() <= 1.0


@pytest.fixture
def in_parts(monkeypatch):
    """Chart meshes above 1000 faces in parts of 400, so small meshes take the path of
    large ones."""
    monkeypatch.setattr(xatlas_jobs, "WHOLE_UP_TO_FACES", 1000)
    monkeypatch.setattr(xatlas_jobs, "PART_FACES", 400)


def test_a_large_mesh_is_charted_in_parts_with_progress(in_parts):
    mesh = noisy_blob(24)
    steps = []
    result = unwrap_uv_detailed(mesh, progress=Progress(lambda done, total: steps.append((done, total))))
    unwrapped = result.mesh
    parts = -(-len(mesh.faces) // 400)
    assert len({total for _, total in steps}) == 1 and parts < steps[-1][1] <= 2 * parts + 1
    assert [done for done, _ in steps] == sorted(done for done, _ in steps)
    assert steps[-1][0] == steps[-1][1]
    assert np.array_equal(unwrapped.vertices[unwrapped.faces], mesh.vertices[mesh.faces])
    assert np.array_equal(unwrapped.vertex_normals[unwrapped.faces], mesh.vertex_normals[mesh.faces])
    assert unwrapped.uvs.min() >= 0.0 and unwrapped.uvs.max() <= 1.0
    # no two charts overlap, also across parts: the texels inside charts match their area
    size = 512
    texels = chart_mask(torch.from_numpy(unwrapped.uvs), torch.from_numpy(unwrapped.faces),
                        size, TorchRasterizer()).sum()
    assert texels == pytest.approx(uv_areas(unwrapped).sum() * size * size, rel=0.05)
    assert result.utilization > 0.5


def test_parts_cover_the_atlas_as_well_as_the_whole(monkeypatch):
    mesh = noisy_blob(32)
    whole = unwrap_uv_detailed(mesh)
    monkeypatch.setattr(xatlas_jobs, "WHOLE_UP_TO_FACES", 1000)
    monkeypatch.setattr(xatlas_jobs, "PART_FACES", 1000)
    parts = unwrap_uv_detailed(mesh)
    assert parts.utilization >= whole.utilization - 0.03


def test_a_child_past_its_time_bound_is_stopped_with_a_clear_error(fake_worker, monkeypatch):
    fake_worker(crashes=0, sleep=30.0)
    monkeypatch.setattr(xatlas_jobs, "SECONDS_FLOOR", 1.0)
    monkeypatch.setattr(xatlas_jobs, "SECONDS_PER_FACE", 0.0)
    started = time.monotonic()
    with pytest.raises(UVUnwrapError, match=r"320 faces did not finish within 1 s.*--max-faces"):
        unwrap_uv(ball())
    assert time.monotonic() - started < 10.0


@pytest.mark.skipif(sys.platform != "linux", reason="the address-space limit is set on Linux")
def test_a_child_past_its_memory_bound_fails_with_a_clear_error(tmp_path, monkeypatch):
    """The child's own limit stops it: without it, this child would take its limit plus
    a gigabyte and succeed."""
    script = tmp_path / "greedy_worker.py"
    script.write_text(
        "import importlib.util, sys\n"
        "import numpy as np\n"
        f"spec = importlib.util.spec_from_file_location('xatlas_worker', {str(xatlas_jobs.WORKER)!r})\n"
        "worker = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(worker)\n"
        "def greedy(settings, source, target):\n"
        "    np.ones(int(settings['memory_limit']) + 2**30, dtype=np.uint8)\n"
        "    return 0\n"
        "worker.unwrap_whole = greedy\n"
        "sys.exit(worker.main())\n"
    )
    monkeypatch.setattr(xatlas_jobs, "WORKER", script)
    with pytest.raises(UVUnwrapError, match=r"ran out of its [0-9.]+ GiB of memory\. Reduce the face"):
        unwrap_uv(ball())


def xatlas_children(parent: int) -> set[int]:
    """Running xatlas worker processes whose parent is ``parent``, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and fields[0] != "Z" and b"xatlas_worker.py" in command:
            found.add(int(entry.name))
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone_within(pids: set[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(running(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


UNWRAP_A_LARGE_MESH = """
import sys
sys.path[:0] = {paths!r}
from blob_meshes import noisy_blob
from hy3d_core.texture.uv_unwrap import unwrap_uv
unwrap_uv(noisy_blob(150))
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stopping_the_job_leaves_no_xatlas_process(stop):
    """Seen on main: after Ctrl-C the xatlas child ran on at 100 % CPU for minutes. A
    112k-face mesh is charted by several children; the job is stopped while they run."""
    here = Path(__file__).resolve().parent
    script = UNWRAP_A_LARGE_MESH.format(paths=[str(here.parents[1]), str(here)])
    job = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        children: set[int] = set()
        while not children and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            children = xatlas_children(job.pid)
        assert children, f"no xatlas child started: {job.stderr.read().decode()[-500:] if job.poll() is not None else 'timeout'}"
        time.sleep(0.5)
        children |= xatlas_children(job.pid)
        job.send_signal(stop)
        job.wait(timeout=30)
        assert job.returncode != 0
        assert gone_within(children, 5.0), f"xatlas children still running: {children}"
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_cancel_stops_the_xatlas_children_within_a_second(in_parts):
    """The Cancel is asked for half a second after the children started, whenever the
    wait happens to poll next; the children are gone within a second of that."""
    seen: set[int] = set()
    asked: list[float] = []

    def should_cancel() -> bool:
        seen.update(xatlas_children(os.getpid()))
        if seen and not asked:
            asked.append(time.monotonic() + 0.5)
        return bool(asked) and time.monotonic() >= asked[0]

    with pytest.raises(Cancelled):
        unwrap_uv(noisy_blob(60), progress=Progress(should_cancel=should_cancel))
    assert time.monotonic() - asked[0] < 1.0
    assert seen and gone_within(seen, 1.0)


def test_a_mesh_without_area_fails_with_a_clear_error():
    """Faces along one line: xatlas lays out nothing, which used to read "0 atlases"."""
    line = Mesh(np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]], dtype=np.float64),
                np.array([[0, 1, 2], [1, 2, 3]]))
    with pytest.raises(UVUnwrapError, match="no face with an area.*line or a point"):
        unwrap_uv(line)
