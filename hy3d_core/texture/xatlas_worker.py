"""Run xatlas in a child process: ``python xatlas_worker.py MODE SETTINGS_JSON PATHS...``.

xatlas (0.0.11) crashes the whole process with a segmentation fault on some ordinary
meshes (a subdivision-6 icosphere, for one), inside its chart packing, and can run away
with memory on meshes it handles badly. In a child process a crash becomes an error the
caller can report or retry and a runaway hits this process's own memory limit, instead
of taking the CLI or a ComfyUI server down.

Modes (meshes travel as ``.npz`` files; each output is written whole, then renamed into
place, so the parent never reads half a file):

``atlas IN OUT``: chart and pack one mesh, as the release does.
``charts OUT_DIR PART...``: chart each part mesh on its own, in texel units shared by
all parts, and write ``OUT_DIR/<part's name>`` after each one (the parent counts them
for its progress bar).
``pack IN OUT``: pack the charts of a UV mesh (what ``charts`` made, all parts
together) into one atlas.

The child guards itself against outliving the parent (on Linux the kernel kills it when
the parent dies, however the parent dies; strictly, when the parent's thread that
started it ends, which is the thread that waits on it) and leaves Ctrl-C to the
parent, which kills it. It imports nothing but the standard library, numpy and xatlas so it starts fast and
never depends on how the parent imported this package.
"""

import ctypes
import json
import os
import signal
import sys
from pathlib import Path

import numpy as np

MULTIPLE_ATLASES_EXIT = 3
OUT_OF_MEMORY_EXIT = 4
ORPHANED_EXIT = 5
NO_CHARTS_EXIT = 6
PR_SET_PDEATHSIG = 1


def main() -> int:
    mode, settings, paths = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
    if not stay_tied_to_parent(int(settings["parent_pid"])):
        return ORPHANED_EXIT
    limit = int(settings["memory_limit"])
    limit_memory(limit)
    try:
        if mode == "atlas":
            return unwrap_whole(settings, Path(paths[0]), Path(paths[1]))
        if mode == "charts":
            for part in paths[1:]:
                chart_part(settings, Path(part), Path(paths[0]) / Path(part).name)
            return 0
        if mode == "pack":
            return pack_charts(settings, Path(paths[0]), Path(paths[1]))
    except MemoryError:
        sys.stderr.write(f"xatlas ran out of its {limit / 2**30:.1f} GiB of memory")
        return OUT_OF_MEMORY_EXIT
    raise SystemExit(f"unknown mode {mode!r}")


def stay_tied_to_parent(parent_pid: int) -> bool:
    """Ask Linux to kill this process when its parent dies, and ignore Ctrl-C (the
    parent decides and kills this process); False when the parent is already gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not sys.platform.startswith("linux"):
        # Elsewhere the parent's wait kills this process; on Windows a virtual
        # environment's launcher may even sit between the two, so the parent's id
        # says nothing.
        return True
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # A parent that died before prctl took effect left this process to init.
    return os.getppid() == parent_pid


def limit_memory(limit: int) -> None:
    """Cap this process's address space (POSIX only; where the system refuses, as
    macOS does for some values, the time bound still stops a runaway)."""
    if sys.platform == "win32":
        return
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass


def chart_options(settings: dict):
    import xatlas

    options = xatlas.ChartOptions()
    options.max_cost = float(settings["max_cost"])
    options.max_iterations = int(settings["max_iterations"])
    return options


def atlas_options(settings: dict, *, block_align: bool):
    import xatlas

    options = xatlas.PackOptions()
    options.resolution = int(settings["resolution"])
    options.padding = int(settings["padding"])
    options.blockAlign = block_align
    return options


def atlas_of_mesh(source: Path):
    import xatlas

    with np.load(source) as arrays:
        atlas = xatlas.Atlas()
        normals = arrays["normals"] if "normals" in arrays.files else None
        atlas.add_mesh(arrays["positions"], arrays["faces"], normals)
    return atlas


def unwrap_whole(settings: dict, source: Path, target: Path) -> int:
    atlas = atlas_of_mesh(source)
    atlas.generate(chart_options(settings), atlas_options(settings, block_align=False))
    return write_atlas(atlas, target)


def chart_part(settings: dict, source: Path, target: Path) -> None:
    """Charts of one part, each flattened and laid side by side at
    ``texels_per_unit`` (the same for every part, so charts keep their relative sizes
    when all parts are packed together), one texel apart so no two charts touch."""
    import xatlas

    atlas = atlas_of_mesh(source)
    layout = xatlas.PackOptions()
    layout.resolution = 0
    layout.texels_per_unit = float(settings["texels_per_unit"])
    layout.padding = 1
    layout.bilinear = False
    layout.rotate_charts = False
    atlas.generate(chart_options(settings), layout)
    vertex_map, faces, uvs = atlas[0]
    texels = uvs * np.array([atlas.width, atlas.height], dtype=np.float32)
    write_whole(target, vertex_map=vertex_map, faces=faces, uvs=texels,
                charts=np.array(atlas.chart_count))


def pack_charts(settings: dict, source: Path, target: Path) -> int:
    """One atlas for charts made elsewhere. Block-aligned placement: it packs such
    many small charts as densely as xatlas's own whole-mesh packing, at no extra cost."""
    import xatlas

    with np.load(source) as arrays:
        atlas = xatlas.Atlas()
        atlas.add_uv_mesh(arrays["uvs"], arrays["faces"])
    atlas.generate(xatlas.ChartOptions(), atlas_options(settings, block_align=True))
    return write_atlas(atlas, target)


def write_atlas(atlas, target: Path) -> int:
    if atlas.atlas_count == 0:
        sys.stderr.write("xatlas found no face with an area to lay out: every face of the mesh "
                         "is a line or a point")
        return NO_CHARTS_EXIT
    if atlas.atlas_count != 1:
        sys.stderr.write(f"xatlas packed the charts into {atlas.atlas_count} atlases, not one")
        return MULTIPLE_ATLASES_EXIT
    vertex_map, faces, uvs = atlas[0]
    stats = [atlas.chart_count, atlas.width, atlas.height, atlas.get_utilization(0)]
    write_whole(target, vertex_map=vertex_map, faces=faces, uvs=uvs,
                stats=np.array(stats, dtype=np.float64))
    return 0


def write_whole(target: Path, **arrays: np.ndarray) -> None:
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as file:
        np.savez(file, **arrays)
    os.replace(partial, target)


if __name__ == "__main__":
    sys.exit(main())
