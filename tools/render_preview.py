"""Render a mesh file from a few azimuths side by side on white, for README pictures.

Uses the pack's own renderer (``hy3d_core.texture.textured_render.render_preview``), so
the picture shows what our baking put in the texture, with no viewer to install.

    python tools/render_preview.py MESH.glb OUT.png [--views N] [--size S] [--elevation DEG]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mesh", help="mesh file (.glb, .gltf, .obj, .ply, .stl); textured or not")
    parser.add_argument("out", help="picture to write (.png)")
    parser.add_argument("--views", type=int, default=4, help="azimuths, evenly spaced from the front")
    parser.add_argument("--size", type=int, default=512, help="pixels per view")
    parser.add_argument("--elevation", type=float, default=15.0, help="camera elevation in degrees")
    parser.add_argument("--backend", choices=("auto", "torch", "nvdiffrast"), default="auto")
    args = parser.parse_args()

    from PIL import Image

    from hy3d_core.io.mesh_files import load_mesh
    from hy3d_core.texture.textured_render import render_preview

    try:
        picture = render_preview(load_mesh(args.mesh), args.views, args.size, elevation=args.elevation,
                                 backend=args.backend)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    Image.fromarray(picture).save(args.out)
    print(f"wrote {args.out} ({picture.shape[1]}x{picture.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
