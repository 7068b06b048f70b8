"""A tiny prepared training folder written by hand, following the dataset contract
(manifest.json + samples/<name>.npz + images/<name>_<k>.png), so the training tests do
not depend on mesh preparation: spheres and cubes with exact surfaces and labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

NUM_UNIFORM = 256
NUM_SHARP = 128
NUM_POINTS = 512
IMAGE_SIZE = 64


def _sphere(radius: float, rng: np.random.Generator):
    directions = rng.normal(size=(NUM_UNIFORM + NUM_SHARP, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    flags = np.zeros((len(directions), 1))
    surface = np.concatenate([directions * radius, directions, flags], axis=1)

    def inside(points):
        return np.linalg.norm(points, axis=1) < radius

    return surface, inside


def _cube(half: float, rng: np.random.Generator):
    axis = rng.integers(0, 3, NUM_UNIFORM)
    sign = rng.choice([-1.0, 1.0], NUM_UNIFORM)
    uniform = rng.uniform(-half, half, (NUM_UNIFORM, 3))
    uniform[np.arange(NUM_UNIFORM), axis] = sign * half
    normals = np.zeros((NUM_UNIFORM, 3))
    normals[np.arange(NUM_UNIFORM), axis] = sign
    sharp = rng.choice([-half, half], (NUM_SHARP, 3))
    free = rng.integers(0, 3, NUM_SHARP)
    sharp[np.arange(NUM_SHARP), free] = rng.uniform(-half, half, NUM_SHARP)
    sharp_normals = np.sign(sharp)
    sharp_normals[np.arange(NUM_SHARP), free] = 0
    sharp_normals /= np.linalg.norm(sharp_normals, axis=1, keepdims=True)
    surface = np.concatenate([
        np.concatenate([uniform, normals, np.zeros((NUM_UNIFORM, 1))], axis=1),
        np.concatenate([sharp, sharp_normals, np.ones((NUM_SHARP, 1))], axis=1),
    ])

    def inside(points):
        return np.abs(points).max(axis=1) < half

    return surface, inside


def _silhouette(kind: str, size: float, colour: tuple[int, int, int]) -> np.ndarray:
    grid = (np.arange(IMAGE_SIZE) + 0.5) / IMAGE_SIZE * 2 - 1
    x, y = np.meshgrid(grid, grid)
    mask = (np.hypot(x, y) < size) if kind == "sphere" else (np.maximum(abs(x), abs(y)) < size)
    rgba = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 4), np.uint8)
    rgba[mask] = (*colour, 255)
    return rgba


SHAPES = (("sphere", 0.8), ("cube", 0.6), ("sphere", 0.5), ("cube", 0.8))


def write_prepared_folder(folder: Path, *, images_per_shape: int = 2, seed: int = 0) -> Path:
    """Four shapes, each with surface rows, labelled points and RGBA renders."""
    rng = np.random.default_rng(seed)
    (folder / "samples").mkdir(parents=True)
    (folder / "images").mkdir()
    entries = []
    for index, (kind, size) in enumerate(SHAPES):
        name = f"{kind}_{index}"
        surface, inside = (_sphere if kind == "sphere" else _cube)(size, rng)
        volume = rng.uniform(-1, 1, (NUM_POINTS // 2, 3))
        near = surface[rng.integers(0, len(surface), NUM_POINTS // 2), :3]
        near = near + rng.normal(scale=0.05, size=near.shape)
        points = np.concatenate([volume, near])
        np.savez(folder / "samples" / f"{name}.npz", surface=surface.astype(np.float32),
                 points=points.astype(np.float32), occupancy=inside(points).astype(np.float32))
        images = []
        for k in range(images_per_shape):
            colour = (200, 60 + 40 * k, 40) if kind == "sphere" else (40, 60 + 40 * k, 200)
            file = f"images/{name}_{k}.png"
            Image.fromarray(_silhouette(kind, size, colour)).save(folder / file)
            images.append({"file": file, "azimuth": 90.0 * k, "elevation": 0.0})
        entries.append({"name": name, "family": kind, "images": images})
    manifest = {"version": 1, "shapes": entries, "num_uniform": NUM_UNIFORM,
                "num_sharp": NUM_SHARP, "bound": 0.9999, "seed": seed}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder
