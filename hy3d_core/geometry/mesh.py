"""The triangle mesh passed between the shape, clean-up, texture and file stages.

Plain numpy arrays, checked once on construction, so every later stage can trust the
shapes and index ranges instead of failing deep inside a library with a cryptic error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..image.arrays import to_uint8

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
    """A triangle mesh with optional per-vertex UVs, vertex normals and textures.

    UVs are per vertex (a UV unwrap splits vertices along seams), with the OBJ/glTF-on-
    trimesh convention: (0, 0) is the bottom-left of the texture image, whose row 0 is
    the top. ``texture`` is the baseColor image, float32 ``[H, W, 3]`` in 0..1.
    ``metallic_roughness`` is float32 ``[H, W, 2]`` in 0..1: channel 0 metallic,
    channel 1 roughness (two named channels rather than an image with an unused third,
    so no reader has to know a packing; glTF's B = metallic, G = roughness packing
    happens only in the file, see :meth:`to_trimesh` and
    docs/release_conventions_2_1.md, section 21). Both use the same UVs and may
    differ in size. Faces are counter-clockwise seen from outside.

    ``image_view`` is the orbit pose (azimuth, elevation in degrees) the shape model
    expects its input image from, when known: a mesh the pack made records it (a GLB
    keeps it, see :mod:`hy3d_core.io.mesh_files`) so texturing it later projects the
    image from where it was seen, not from the front.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray | None = None
    vertex_normals: np.ndarray | None = None
    texture: np.ndarray | None = None
    metallic_roughness: np.ndarray | None = None
    image_view: tuple[float, float] | None = None

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
            self.texture = self._checked_image("texture", self.texture, 3, "an RGB image")
        if self.metallic_roughness is not None:
            self.metallic_roughness = self._checked_image(
                "metallic_roughness", self.metallic_roughness, 2,
                "a (metallic, roughness) image")
        if self.image_view is not None:
            self.image_view = _checked_pose(self.image_view)

    def _check_per_vertex(self, name: str, array: np.ndarray) -> None:
        if len(array) != len(self.vertices):
            raise ValueError(
                f"Mesh {name} has {len(array)} rows but the mesh has "
                f"{len(self.vertices)} vertices; give one row per vertex."
            )
        _check_finite(name, array)

    def _checked_image(self, name: str, value, channels: int, what: str) -> np.ndarray:
        image = np.ascontiguousarray(value, dtype=np.float32)
        if image.ndim != 3 or image.shape[2] != channels or 0 in image.shape:
            raise ValueError(
                f"Mesh {name} must be {what} [H, W, {channels}], got {list(image.shape)}."
            )
        if not np.isfinite(image).all() or image.min() < 0.0 or image.max() > 1.0:
            raise ValueError(f"Mesh {name} values must be finite and within 0..1.")
        if self.uvs is None:
            raise ValueError(f"A mesh {name} needs UVs to map it; unwrap the mesh first.")
        return image

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
            metallic_roughness=(None if self.metallic_roughness is None
                                else self.metallic_roughness.copy()),
            image_view=self.image_view,
        )

    def with_texture(self, texture: np.ndarray,
                     metallic_roughness: np.ndarray | None = None) -> "Mesh":
        """This mesh with ``texture`` as its base colour image (and ``metallic_roughness``
        as its PBR map, or none), replacing any others.

        Vertices, faces, UVs and normals are shared, not copied: no stage writes into a
        mesh's arrays, and a baked texture is re-attached to meshes of any size.
        """
        return Mesh(self.vertices, self.faces, uvs=self.uvs, vertex_normals=self.vertex_normals,
                    texture=texture, metallic_roughness=metallic_roughness,
                    image_view=self.image_view)

    def to_trimesh(self) -> "trimesh.Trimesh":
        """Unprocessed, so vertex order and count stay exactly as they are here.

        With a ``metallic_roughness`` map the material carries glTF's packed
        metallicRoughnessTexture (R = 255 unused, G = roughness, B = metallic, as the
        release's ``create_glb_with_pbr_materials`` writes it) with both factors 1, so
        the map's values are the material's (docs/release_conventions_2_1.md,
        section 21); without one the surface is a plain dielectric (metallic 0, roughness 1).
        """
        import trimesh
        from PIL import Image

        visual = None
        if self.uvs is not None:
            image = None
            if self.texture is not None:
                image = Image.fromarray(to_uint8(self.texture, "texture"), mode="RGB")
            factors = {"metallicFactor": 0.0, "roughnessFactor": 1.0}
            if self.metallic_roughness is not None:
                packed = np.full(self.metallic_roughness.shape[:2] + (3,), 255, np.uint8)
                packed[..., 1] = to_uint8(self.metallic_roughness[..., 1], "roughness")
                packed[..., 2] = to_uint8(self.metallic_roughness[..., 0], "metallic")
                factors = {"metallicFactor": 1.0, "roughnessFactor": 1.0,
                           "metallicRoughnessTexture": Image.fromarray(packed, mode="RGB")}
            # an explicit material: without one trimesh invents a grey placeholder image
            material = trimesh.visual.material.PBRMaterial(baseColorTexture=image, **factors)
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
        metallic_roughness = None
        visual = mesh.visual
        if getattr(visual, "kind", None) == "texture" and visual.uv is not None:
            uvs = np.asarray(visual.uv)
            texture = _material_image(visual.material)
            metallic_roughness = _material_metallic_roughness(visual.material)
        normals = mesh.vertex_normals if "vertex_normals" in mesh._cache else None
        return cls(
            vertices=np.asarray(mesh.vertices),
            faces=np.asarray(mesh.faces),
            uvs=uvs,
            vertex_normals=normals,
            texture=texture if uvs is not None else None,
            metallic_roughness=metallic_roughness,
        )


def _checked_pose(value) -> tuple[float, float]:
    try:
        azimuth, elevation = (float(angle) for angle in value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"Mesh image_view must be (azimuth, elevation) in degrees, got {value!r}.") \
            from error
    if not (np.isfinite(azimuth) and np.isfinite(elevation)):
        raise ValueError(f"Mesh image_view angles must be finite, got {value!r}.")
    return azimuth, elevation


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


def _material_metallic_roughness(material) -> np.ndarray | None:
    """``[H, W, 2]`` (metallic, roughness) from a glTF metallicRoughnessTexture (B and G),
    times the material's factors as glTF defines them (a missing factor is 1)."""
    image = getattr(material, "metallicRoughnessTexture", None)
    if image is None:
        return None
    packed = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    metallic_factor = getattr(material, "metallicFactor", None)
    roughness_factor = getattr(material, "roughnessFactor", None)
    metallic = packed[..., 2] * (1.0 if metallic_factor is None else float(metallic_factor))
    roughness = packed[..., 1] * (1.0 if roughness_factor is None else float(roughness_factor))
    return np.clip(np.stack([metallic, roughness], axis=-1), 0.0, 1.0)
