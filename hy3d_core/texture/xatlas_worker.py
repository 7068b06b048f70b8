"""Run xatlas in a child process: ``python xatlas_worker.py OPTIONS_JSON``.

xatlas (0.0.11) crashes the whole process with a segmentation fault on some ordinary
meshes (a subdivision-6 icosphere, for one), inside its chart packing. In a child
process a crash becomes an error the caller can report or retry, instead of taking the
CLI or a ComfyUI server down. The mesh arrives as an ``.npz`` on stdin and the atlas
leaves as an ``.npz`` on stdout; this file imports nothing but numpy and xatlas so the
child starts fast and never depends on how the parent imported this package.
"""

import io
import json
import sys

import numpy as np

MULTIPLE_ATLASES_EXIT = 3


def main() -> int:
    import xatlas

    options = json.loads(sys.argv[1])
    arrays = np.load(io.BytesIO(sys.stdin.buffer.read()))
    atlas = xatlas.Atlas()
    normals = arrays["normals"] if "normals" in arrays.files else None
    atlas.add_mesh(arrays["positions"], arrays["faces"], normals)
    chart_options = xatlas.ChartOptions()
    chart_options.max_cost = float(options["max_cost"])
    chart_options.max_iterations = int(options["max_iterations"])
    pack_options = xatlas.PackOptions()
    pack_options.resolution = int(options["resolution"])
    pack_options.padding = int(options["padding"])
    atlas.generate(chart_options, pack_options)
    if atlas.atlas_count != 1:
        sys.stderr.write(f"xatlas packed the charts into {atlas.atlas_count} atlases, not one")
        return MULTIPLE_ATLASES_EXIT
    vertex_map, faces, uvs = atlas[0]
    output = io.BytesIO()
    np.savez(
        output, vertex_map=vertex_map, faces=faces, uvs=uvs,
        stats=np.array([atlas.chart_count, atlas.width, atlas.height, atlas.get_utilization(0)],
                       dtype=np.float64),
    )
    sys.stdout.buffer.write(output.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
