"""The triangle mesh passed between the shape, clean-up, texture and file stages.

Plain numpy arrays, checked once on construction, so every later stage can trust the
shapes and index ranges instead of failing deep inside a library with a cryptic error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import trimesh


def _as_array(name: str, value, dtype, columns: int | None) -> np.ndarray:
    try:
        array = np.ascontiguousarray(value, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Mesh {name} must be a numeric array ({error}).") from error
    if columns is not None and (array.ndim != 2 or array.shape[1] != columns):
        raise ValueError(
            f"Mesh {name} must have shape [N, {columns}], got {list(array.shape)}."
        )
    return array


def _check_finite(name: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.argwhere(bad)[0][0])
        raise ValueError(
            f"Mesh {name} contain NaN or infinite values (first at row {first}); "
            "remove or repair those rows before building the mesh."
        )


@dataclass(eq=False)
class Mesh:
    """A triangle mesh with optional per-vertex UVs, vertex normals and a texture.

    UVs are per vertex (a UV unwrap splits vertices along seams), with the OBJ/glTF-on-
    trimesh convention: (0, 0) is the bottom-left of the texture image, whose row 0 is
    the top. ``texture`` is the baseColor image, float32 ``[H, W, 3]`` in 0..1.
    Faces are counter-clockwise seen from outside.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray | None = None
    vertex_normals: np.ndarray | None = None
    texture: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.vertices = _as_array("vertices", self.vertices, np.float32, 3)
        _check_finite("vertices", self.vertices)
        faces = np.asarray(self.faces)
        if faces.size and not np.issubdtype(faces.dtype, np.integer):
            raise ValueError(f"Mesh faces must hold integer vertex indices, got {faces.dtype}.")
        self.faces = _as_array("faces", faces.reshape(-1, 3) if faces.size == 0 else faces,
                               np.int64, 3)
        count = len(self.vertices)
        if self.faces.size and (self.faces.min() < 0 or self.faces.max() >= count):
            raise ValueError(
                f"Mesh faces index vertices {int(self.faces.min())}..{int(self.faces.max())} "
                f"but the mesh has {count} vertices (valid: 0..{count - 1})."
            )
        if self.uvs is not None:
            self.uvs = _as_array("uvs", self.uvs, np.float32, 2)
            self._check_per_vertex("uvs", self.uvs)
        if self.vertex_normals is not None:
            self.vertex_normals = _as_array("vertex_normals", self.vertex_normals,
                                            np.float32, 3)
            self._check_per_vertex("vertex_normals", self.vertex_normals)
        if self.texture is not None:
            self._check_texture()

    def _check_per_vertex(self, name: str, array: np.ndarray) -> None:
        if len(array) != len(self.vertices):
            raise ValueError(
                f"Mesh {name} has {len(array)} rows but the mesh has "
                f"{len(self.vertices)} vertices; give one row per vertex."
            )
        _check_finite(name, array)

    def _check_texture(self) -> None:
        texture = np.ascontiguousarray(self.texture, dtype=np.float32)
        if texture.ndim != 3 or texture.shape[2] != 3 or 0 in texture.shape:
            raise ValueError(
                f"Mesh texture must be an RGB image [H, W, 3], got {list(texture.shape)}."
            )
        if not np.isfinite(texture).all() or texture.min() < 0.0 or texture.max() > 1.0:
            raise ValueError("Mesh texture values must be finite and within 0..1.")
        if self.uvs is None:
            raise ValueError("A mesh texture needs UVs to map it; unwrap the mesh first.")
        self.texture = texture

    @property
    def is_empty(self) -> bool:
        return len(self.vertices) == 0 or len(self.faces) == 0

    def copy(self) -> "Mesh":
        return Mesh(
            vertices=self.vertices.copy(),
            faces=self.faces.copy(),
            uvs=None if self.uvs is None else self.uvs.copy(),
            vertex_normals=None if self.vertex_normals is None else self.vertex_normals.copy(),
            texture=None if self.texture is None else self.texture.copy(),
        )

    def with_texture(self, texture: np.ndarray) -> "Mesh":
        """This mesh with ``texture`` as its base colour image, replacing any other.

        Vertices, faces, UVs and normals are shared, not copied: no stage writes into a
        mesh's arrays, and a baked texture is re-attached to meshes of any size.
        """
        return Mesh(self.vertices, self.faces, uvs=self.uvs, vertex_normals=self.vertex_normals,
                    texture=texture)

    def to_trimesh(self) -> "trimesh.Trimesh":
        """Unprocessed, so vertex order and count stay exactly as they are here."""
        import trimesh
        from PIL import Image

        visual = None
        if self.uvs is not None:
            image = None
            if self.texture is not None:
                pixels = np.round(self.texture * 255.0).astype(np.uint8)
                image = Image.fromarray(pixels, mode="RGB")
            # an explicit material: without one trimesh invents a grey placeholder image
            material = trimesh.visual.material.PBRMaterial(
                baseColorTexture=image, metallicFactor=0.0, roughnessFactor=1.0
            )
            visual = trimesh.visual.TextureVisuals(uv=self.uvs, material=material)
        return trimesh.Trimesh(
            vertices=self.vertices,
            faces=self.faces,
            vertex_normals=self.vertex_normals,
            visual=visual,
            process=False,
        )

    @classmethod
    def from_trimesh(cls, mesh: "trimesh.Trimesh") -> "Mesh":
        """Keep UVs and the base colour image when the trimesh carries them.

        Vertex normals are kept only when they came with the data: trimesh computes them
        on first access, and storing computed ones would pretend the source had them.
        """
        uvs = None
        texture = None
        visual = mesh.visual
        if getattr(visual, "kind", None) == "texture" and visual.uv is not None:
            uvs = np.asarray(visual.uv)
            texture = _material_image(visual.material)
        normals = mesh.vertex_normals if "vertex_normals" in mesh._cache else None
        return cls(
            vertices=np.asarray(mesh.vertices),
            faces=np.asarray(mesh.faces),
            uvs=uvs,
            vertex_normals=normals,
            texture=texture if uvs is not None else None,
        )


def _material_image(material) -> np.ndarray | None:
    from trimesh.visual.material import color_image

    image = getattr(material, "baseColorTexture", None)
    if image is None:
        image = getattr(material, "image", None)
    # trimesh fills UVs without a material (a PLY, an OBJ without MTL) with this
    # placeholder; it is not a texture of the file.
    if image is None or np.array_equal(np.asarray(image), np.asarray(color_image())):
        return None
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
