"""Training data on disk: surface samples, labelled supervision points and conditioning
renders per shape, written once and read by the VAE and DiT trainers.

Layout of a prepared folder (the contract the trainers read)::

    manifest.json        version, shapes (name, family, params, images with their pose),
                         sample counts, bound, seed
    samples/<name>.npz   surface [num_uniform + num_sharp, 7] (xyz, normal, sharp flag),
                         points [Q, 3], occupancy [Q] (1 inside), all float32
    images/<name>_<k>.png  RGBA renders, alpha = silhouette

Every shape is normalised exactly as ``encode_mesh`` does (bounding-box centre, longest
side ``2 * RELEASED_ENCODER_BOUND``), so a VAE trained here decodes in the frame the
shape pipeline uses. Procedural shapes are labelled by their exact inside test, mapped
through that normalisation; user meshes are first made watertight and labelled by the
watertight grid (accurate to about a voxel). Each shape draws from its own generator
seeded by ``(seed, index)``, so the output depends only on the seed and the inputs.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..geometry.mesh import Mesh
from ..geometry.normalization import RELEASED_ENCODER_BOUND, normalize_mesh
from ..geometry.surface_sampling import sample_surface, surface_point_cloud
from ..io.atomic_files import write_files_atomically
from ..io.mesh_files import LOAD_FORMATS, load_mesh
from ..sampling.progress import Progress
from .condition_renders import DEFAULT_COLOUR, render_condition_images
from .procedural_shapes import ProceduralShape
from .watertight import watertight_solid

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
SUPERVISION_BOUND = 1.05
WATERTIGHT_RESOLUTION = 128
_WRITTEN = (MANIFEST_NAME, "samples", "images")
# Per-channel range of the random view colours: neither black nor white on the white ground.
RANDOM_COLOUR_RANGE = (0.2, 0.95)


@dataclass(frozen=True, eq=False)
class _Source:
    """One shape to prepare: its mesh in its own frame and an inside test in that frame."""

    name: str
    family: str | None
    params: dict | None
    mesh: Mesh
    contains: Callable[[np.ndarray], np.ndarray]


def _safe_name(stem: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "mesh"
    name, suffix = base, 1
    while name in taken:
        suffix += 1
        name = f"{base}_{suffix}"
    taken.add(name)
    return name


def _mesh_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ValueError(f"Mesh folder {folder} does not exist or is not a folder.")
    files = sorted(path for path in folder.iterdir()
                   if path.is_file() and path.suffix.lower() in LOAD_FORMATS)
    if not files:
        raise ValueError(f"No mesh files ({', '.join(LOAD_FORMATS)}) in {folder}; put the "
                         "meshes to train on directly in that folder.")
    return files


def _user_source(path: Path, name: str, resolution: int) -> _Source:
    try:
        mesh = load_mesh(path)
    except Exception as error:
        raise ValueError(f"Cannot read mesh file {path}: {error}") from error
    if mesh.is_empty:
        raise ValueError(f"Mesh file {path} has no faces ({len(mesh.vertices)} vertices); "
                         "remove it or export it with its triangles.")
    try:
        solid = watertight_solid(mesh, resolution=resolution)
    except ValueError as error:
        raise ValueError(f"Cannot make {path} watertight: {error}") from error
    return _Source(name, None, None, solid.mesh(), solid.contains)


def _procedural_source(shape: ProceduralShape, index: int) -> _Source:
    return _Source(f"{shape.family}_{index:04d}", shape.family, shape.params, shape.mesh,
                   shape.contains)


def _supervision_points(mesh: Mesh, num_volume: int, num_near: int,
                        near_sigmas: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    volume = rng.uniform(-SUPERVISION_BOUND, SUPERVISION_BOUND, size=(num_volume, 3))
    surface, _ = sample_surface(mesh, num_near, seed=rng)
    sigma = np.asarray(near_sigmas, dtype=np.float64)[
        np.arange(num_near) * len(near_sigmas) // max(num_near, 1)]
    near = surface + rng.normal(size=(num_near, 3)) * sigma[:, None]
    return np.concatenate([volume, near]).astype(np.float32)


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image, mode="RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _prepare_shape(source: _Source, out_dir: Path, rng: np.random.Generator, *,
                   num_uniform: int, num_sharp: int, num_volume: int, num_near: int,
                   near_sigmas: Sequence[float], views: int, azimuth_range, elevation_range,
                   image_size: int, random_colours: bool) -> dict:
    normalized, transform = normalize_mesh(source.mesh, bound=RELEASED_ENCODER_BOUND)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        surface = surface_point_cloud(normalized, num_uniform=num_uniform,
                                      num_sharp=num_sharp, seed=rng)[0].numpy()
    points = _supervision_points(normalized, num_volume, num_near, near_sigmas, rng)
    occupancy = source.contains(transform.undo(points)).astype(np.float32)
    files = {out_dir / "samples" / f"{source.name}.npz":
             _npz(surface=surface, points=points, occupancy=occupancy)}
    poses = [(round(float(rng.uniform(*azimuth_range)), 3),
              round(float(rng.uniform(*elevation_range)), 3)) for _ in range(views)]
    # Drawn after everything else, so the samples do not depend on the colour option.
    colours = (rng.uniform(*RANDOM_COLOUR_RANGE, size=(views, 3)).round(3) if random_colours
               else np.tile(DEFAULT_COLOUR, (views, 1)))
    renders = render_condition_images(normalized, poses, size=image_size, colours=colours.tolist())
    images = []
    for view, ((azimuth, elevation), colour, render) in enumerate(zip(poses, colours, renders)):
        relative = f"images/{source.name}_{view}.png"
        files[out_dir / relative] = _png(render)
        images.append({"file": relative, "azimuth": azimuth, "elevation": elevation,
                       "colour": [float(c) for c in colour]})
    write_files_atomically(files)
    return {"name": source.name, "family": source.family, "params": source.params,
            "images": images, "sharp_edges": not any("no sharp edge" in str(w.message) for w in caught)}


def _check_count(name: str, value: int, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}.")


def _check_range(name: str, value: Sequence[float]) -> tuple[float, float]:
    low, high = (float(v) for v in value)
    if low > high:
        raise ValueError(f"{name} must be (low, high) with low <= high, got {tuple(value)}.")
    return low, high


def _clear_output(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"Output {out_dir} exists and is not a folder.")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(f"Output folder {out_dir} is not empty; choose another "
                                  "folder or pass overwrite=True (--overwrite) to replace it.")
        for name in _WRITTEN:
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def prepare_mesh_dataset(
    sources: str | os.PathLike | Sequence[ProceduralShape],
    out_dir: str | os.PathLike,
    *,
    num_uniform: int = 8192,
    num_sharp: int = 8192,
    num_volume: int = 8192,
    num_near: int = 8192,
    near_sigmas: Sequence[float] = (0.01, 0.05),
    views_per_shape: int = 4,
    azimuth_range: Sequence[float] = (-30.0, 30.0),
    elevation_range: Sequence[float] = (-10.0, 30.0),
    image_size: int = 256,
    random_colours: bool = False,
    seed: int = 0,
    watertight_resolution: int = WATERTIGHT_RESOLUTION,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Write the training folder for ``sources`` (a folder of mesh files, or procedural
    shapes) to ``out_dir`` and return it.

    Supervision points: ``num_volume`` uniform in ``[-1.05, 1.05]^3`` and ``num_near``
    surface points moved by gaussian offsets, split equally among ``near_sigmas``. Views
    are drawn uniformly from the azimuth and elevation ranges (degrees; 0, 0 is the
    front). Views are grey unless ``random_colours``, which gives each view its own
    colour, so a model conditioned on them learns shape, not one shade. User meshes are
    made watertight on a grid of ``watertight_resolution`` voxels along their longest side
    (see ``watertight.py``). A non-empty ``out_dir`` is refused unless ``overwrite``, which
    replaces the manifest, samples and images there. The manifest is written last, so an
    interrupted run leaves no folder that looks complete.
    """
    for name, value in (("num_uniform", num_uniform), ("num_sharp", num_sharp),
                        ("num_volume", num_volume), ("num_near", num_near),
                        ("views_per_shape", views_per_shape)):
        _check_count(name, value)
    _check_count("image_size", image_size, 1)
    if num_uniform + num_sharp == 0 or num_volume + num_near == 0:
        raise ValueError("Need at least one surface sample and one supervision point.")
    if not near_sigmas or any(not s > 0 for s in near_sigmas):
        raise ValueError(f"near_sigmas must be positive values, got {near_sigmas!r}.")
    azimuth_range = _check_range("azimuth_range", azimuth_range)
    elevation_range = _check_range("elevation_range", elevation_range)
    if isinstance(sources, (str, os.PathLike)):
        files = _mesh_files(Path(sources))
        taken: set[str] = set()
        names = [_safe_name(path.stem, taken) for path in files]
        make = [lambda path=path, name=name: _user_source(path, name, watertight_resolution)
                for path, name in zip(files, names)]
    else:
        shapes = list(sources)
        if not shapes or not all(isinstance(s, ProceduralShape) for s in shapes):
            raise ValueError("sources must be a folder of meshes or a non-empty list of "
                             "ProceduralShape.")
        make = [lambda shape=shape, index=index: _procedural_source(shape, index)
                for index, shape in enumerate(shapes)]
    out_dir = Path(out_dir)
    _clear_output(out_dir, overwrite)
    entries = []
    for index, build in enumerate(make):
        rng = np.random.default_rng([seed, index])
        entries.append(_prepare_shape(
            build(), out_dir, rng, num_uniform=num_uniform, num_sharp=num_sharp,
            num_volume=num_volume, num_near=num_near, near_sigmas=near_sigmas,
            views=views_per_shape, azimuth_range=azimuth_range,
            elevation_range=elevation_range, image_size=image_size,
            random_colours=random_colours))
        if progress is not None:
            progress.step(index + 1, len(make))
    manifest = {"version": MANIFEST_VERSION, "shapes": entries, "num_uniform": num_uniform,
                "num_sharp": num_sharp, "num_volume": num_volume, "num_near": num_near,
                "near_sigmas": [float(s) for s in near_sigmas], "bound": SUPERVISION_BOUND,
                "normalization_bound": RELEASED_ENCODER_BOUND, "image_size": image_size,
                "random_colours": random_colours,
                "seed": seed}
    write_files_atomically({out_dir / MANIFEST_NAME:
                            json.dumps(manifest, indent=1).encode("utf-8")})
    return out_dir


def read_manifest(folder: str | os.PathLike) -> dict:
    """The manifest of a prepared folder, with a clear error when it is not one."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {MANIFEST_NAME}: it is not a prepared "
                                "dataset (run `python -m hy3d_core prepare-data` first).")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("version") != MANIFEST_VERSION:
        raise ValueError(f"{path} has version {manifest.get('version')!r}; this code reads "
                         f"version {MANIFEST_VERSION}. Prepare the data again.")
    return manifest


class ShapeSampleDataset(torch.utils.data.Dataset):
    """The prepared shapes as ``{"name", "surface" [Nsurf, 7], "points" [Q, 3],
    "occupancy" [Q]}`` items (float32 tensors; the default collate stacks them)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.names = [shape["name"] for shape in self.manifest["shapes"]]

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict:
        name = self.names[index]
        path = self.folder / "samples" / f"{name}.npz"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is listed in the manifest but missing; "
                                    "prepare the dataset again.")
        with np.load(path) as data:
            return {"name": name,
                    "surface": torch.from_numpy(data["surface"]),
                    "points": torch.from_numpy(data["points"]),
                    "occupancy": torch.from_numpy(data["occupancy"])}
