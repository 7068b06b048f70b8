"""Mesh files in and out: GLB, OBJ (+ MTL and PNG), PLY; STL and glTF for reading.

A save writes all its files (an OBJ's MTL and PNGs too) atomically, see
:mod:`hy3d_core.io.atomic_files`. A metallic-roughness map goes into a GLB as glTF's
packed metallicRoughnessTexture (see ``Mesh.to_trimesh``) and into an OBJ as the
release's MTL PBR extension: ``map_Pm <name>_metallic.png`` and ``map_Pr
<name>_roughness.png``, single-channel images beside ``map_Kd`` (the release writes
JPEGs; PNG keeps the values exact). See docs/release_conventions_2_1.md, section 21.

A mesh's ``image_view`` (the pose its input image was seen from) goes into a GLB as
the scene's glTF extras, ``{"hy3d_image_view": [azimuth, elevation]}``, and comes back
from a GLB or glTF; OBJ, PLY and STL have no place for it, so it is not saved there and
loads as ``None``.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..geometry.mesh import Mesh
from ..image.arrays import to_uint8
from .atomic_files import write_files_atomically

if TYPE_CHECKING:
    import trimesh

SAVE_FORMATS = (".glb", ".obj", ".ply")
OBJ_PBR_MAPS = (("map_Pm", "_metallic", 0), ("map_Pr", "_roughness", 1))
"""MTL key, file-name suffix and ``Mesh.metallic_roughness`` channel of each PBR map."""
LOAD_FORMATS = (".glb", ".gltf", ".obj", ".ply", ".stl")
IMAGE_VIEW_EXTRA = "hy3d_image_view"
"""The glTF scene extras key holding ``Mesh.image_view`` as ``[azimuth, elevation]``."""


def _extension(path: Path, supported: tuple[str, ...], action: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in supported:
        raise ValueError(
            f"Cannot {action} {path.name!r}: unsupported extension {suffix or '(none)'!r}; "
            f"supported: {', '.join(supported)}."
        )
    return suffix


def _material_name(path: Path) -> str:
    """The name an OBJ's MTL and texture images take: the OBJ's own, spaces made ``_``."""
    return re.sub(r"\s", "_", path.stem)


def output_files(path: str | os.PathLike, *, has_uvs: bool, has_texture: bool,
                 has_metallic_roughness: bool = False) -> tuple[Path, ...]:
    """Every file ``save_mesh`` writes for a mesh with these parts, mesh file last, so a
    caller can check them (taken names, inputs they would replace) before any work starts."""
    path = Path(path)
    suffix = _extension(path, SAVE_FORMATS, "save")
    if suffix != ".obj" or not (has_uvs or has_texture):
        return (path,)
    name = _material_name(path)
    files = [path.with_name(f"{name}.mtl")]
    if has_texture:
        files.insert(0, path.with_name(f"{name}.png"))
        if has_metallic_roughness:
            files += [path.with_name(f"{name}{map_suffix}.png") for _, map_suffix, _ in OBJ_PBR_MAPS]
    return (*files, path)


def _obj_files(mesh: Mesh, path: Path) -> dict[Path, bytes]:
    """The OBJ plus, when textured, its MTL and PNG named after it (not ``material_0``),
    so two meshes saved in one folder never share or overwrite a texture."""
    import trimesh
    from trimesh.exchange.obj import export_obj

    tm = mesh.to_trimesh()
    material_name = _material_name(path)
    if mesh.texture is not None:
        image = tm.visual.material.baseColorTexture
        tm.visual.material = trimesh.visual.material.SimpleMaterial(
            name=material_name,
            image=image,
            diffuse=(255, 255, 255, 255),
            ambient=(255, 255, 255, 255),
            specular=(0, 0, 0, 255),
        )
    elif mesh.uvs is not None:
        tm.visual.material.name = material_name
    text, companions = export_obj(
        tm,
        include_normals=mesh.vertex_normals is not None,
        include_texture=True,
        return_texture=True,
        mtl_name=f"{material_name}.mtl",
        header=None,
    )
    files = {path.with_name(name): data for name, data in companions.items()}
    if mesh.metallic_roughness is not None:
        _add_obj_pbr_maps(mesh, files, path.with_name(f"{material_name}.mtl"), material_name)
    files[path] = text.encode("utf-8")
    return files


def _add_obj_pbr_maps(mesh: Mesh, files: dict[Path, bytes], mtl_path: Path,
                      material_name: str) -> None:
    """Write the metallic and roughness maps as grey PNGs and name them in the MTL."""
    from PIL import Image

    lines = []
    for key, suffix, channel in OBJ_PBR_MAPS:
        name = f"{material_name}{suffix}.png"
        buffer = io.BytesIO()
        pixels = to_uint8(mesh.metallic_roughness[..., channel], key)
        Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
        files[mtl_path.with_name(name)] = buffer.getvalue()
        lines.append(f"{key} {name}\n")
    mtl = files[mtl_path].decode("utf-8")
    if not mtl.endswith("\n"):
        mtl += "\n"
    files[mtl_path] = (mtl + "".join(lines)).encode("utf-8")


def _obj_metallic_roughness(loaded: "trimesh.Trimesh", folder: Path):
    """The ``map_Pm`` / ``map_Pr`` images an OBJ's material names, as ``[H, W, 2]``; a
    missing one of the two takes the plain dielectric's value (metallic 0, roughness 1)."""
    from PIL import Image

    material = getattr(loaded.visual, "material", None)
    names = getattr(material, "kwargs", {}) or {}
    maps = {}
    for key, _, channel in OBJ_PBR_MAPS:
        value = names.get(key.lower())
        if value:
            image_path = folder / " ".join(value)
            if not image_path.is_file():
                raise FileNotFoundError(
                    f"The OBJ's material names {key} {image_path.name!r}, which is not in "
                    f"{str(folder)!r}; put the image beside the OBJ or remove the line from the MTL."
                )
            with Image.open(image_path) as image:
                maps[channel] = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    if not maps:
        return None
    shapes = {image.shape for image in maps.values()}
    if len(shapes) > 1:
        raise ValueError(
            f"The OBJ's metallic and roughness maps differ in size ({sorted(shapes)}); "
            "resize one to the other's size."
        )
    shape = shapes.pop()
    metallic = maps.get(0, np.zeros(shape, np.float32))
    roughness = maps.get(1, np.ones(shape, np.float32))
    return np.stack([metallic, roughness], axis=-1)


def _encode(mesh: Mesh, path: Path, suffix: str) -> dict[Path, bytes]:
    if suffix == ".obj":
        return _obj_files(mesh, path)
    if suffix == ".glb" and mesh.image_view is not None:
        scene = mesh.to_trimesh().scene()
        scene.metadata[IMAGE_VIEW_EXTRA] = list(mesh.image_view)
        return {path: scene.export(file_type="glb")}
    return {path: mesh.to_trimesh().export(file_type=suffix[1:])}


def save_mesh(mesh: Mesh, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``mesh`` as .glb, .obj or .ply and return the path written.

    GLB embeds the texture as a PBR baseColor map (and the metallic-roughness map when
    the mesh has one); OBJ writes ``<name>.mtl`` and ``<name>.png`` beside itself (and
    ``<name>_metallic.png``, ``<name>_roughness.png``); PLY keeps geometry, UVs and
    normals but no image. Only a GLB keeps ``mesh.image_view``.
    """
    path = Path(path)
    suffix = _extension(path, SAVE_FORMATS, "save")
    if mesh.is_empty:
        raise ValueError(
            f"Cannot save {path.name!r}: the mesh has {len(mesh.vertices)} vertices and "
            f"{len(mesh.faces)} faces; a mesh file needs at least one face."
        )
    encoded = _encode(mesh, path, suffix)
    names = output_files(path, has_uvs=mesh.uvs is not None, has_texture=mesh.texture is not None,
                         has_metallic_roughness=mesh.metallic_roughness is not None)
    if set(names) != set(encoded):
        raise RuntimeError(f"saving {path} would write {sorted(map(str, encoded))}, not the announced "
                           f"{sorted(map(str, names))}")
    # in output_files' order: the mesh file itself last, so its companions are in place when it appears
    files = {name: encoded[name] for name in names}
    write_files_atomically(files, overwrite=overwrite)
    return path


MAX_PREFIX_BYTES = 200
"""Room left in a 255-byte file name for ``_NNNNN`` and the longest companion suffix
(``_metallic.png``)."""


def unique_output_path(folder: str | os.PathLike, prefix: str, ext: str) -> Path:
    """``folder/prefix_00001.ext``, numbered past every existing ``prefix_NNNNN.*``.

    The number counts across extensions so an OBJ's MTL and PNG companions, which share
    its name, cannot collide with a later save. ``prefix`` may name a subfolder.
    """
    folder = Path(folder)
    ext = ext.lstrip(".")
    if not ext or not re.fullmatch(r"[A-Za-z0-9]+", ext):
        raise ValueError(f"ext must be a plain file extension such as 'glb', got {ext!r}.")
    target = folder / prefix
    if not target.name or target.name in (".", ".."):
        raise ValueError(f"prefix must end in a file name, got {prefix!r}.")
    if not target.parent.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"prefix {prefix!r} points outside the output folder {str(folder)!r}.")
    if len(target.name.encode()) > MAX_PREFIX_BYTES:
        raise ValueError(
            f"the file name prefix {target.name[:20]!r}... is {len(target.name.encode())} bytes long; file "
            f"names are limited to 255 bytes and the saved files add a number and a suffix: use at "
            f"most {MAX_PREFIX_BYTES}."
        )
    pattern = re.compile(rf"{re.escape(target.name)}_(\d+)\..+")
    numbers = [0]
    if target.parent.is_dir():
        for entry in target.parent.iterdir():
            match = pattern.fullmatch(entry.name)
            if match:
                numbers.append(int(match.group(1)))
    number = max(numbers) + 1
    while True:
        candidate = target.parent / f"{target.name}_{number:05d}.{ext}"
        if not candidate.exists():
            return candidate
        number += 1


def _flatten_scene(scene: "trimesh.Scene") -> "trimesh.Trimesh | None":
    """Every mesh instance moved to its place and joined; copies keep their cache so
    normals stored in the file survive (``Scene.dump`` drops them)."""
    import trimesh

    parts = []
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        geometry = scene.geometry[name]
        if isinstance(geometry, trimesh.Trimesh):
            part = geometry.copy(include_cache=True)
            part.apply_transform(transform)
            parts.append(part)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else trimesh.util.concatenate(parts)


def load_mesh(path: str | os.PathLike) -> Mesh:
    """Read a mesh file; every part of a scene is placed and merged into one mesh.

    Base colour and metallic-roughness maps are kept: a GLB's from its glTF material,
    an OBJ's from its MTL (``map_Kd``, ``map_Pm``, ``map_Pr``). ``image_view`` comes
    from a GLB's or glTF's scene extras (``None`` without them, and for other formats).
    """
    import trimesh

    path = Path(path)
    suffix = _extension(path, LOAD_FORMATS, "load")
    if not path.is_file():
        raise FileNotFoundError(f"No mesh file at {str(path)!r}.")
    image_view = None
    try:
        loaded = trimesh.load(path, file_type=suffix[1:], process=False)
        if isinstance(loaded, trimesh.Scene):
            image_view = loaded.metadata.get(IMAGE_VIEW_EXTRA)
            loaded = _flatten_scene(loaded)
    except IndexError as error:
        raise _unreadable(path, f"a face refers to a vertex the file does not have ({error})") \
            from error
    except Exception as error:  # trimesh's parsers raise many types for a damaged file
        raise _unreadable(path, f"{type(error).__name__}: {error}") from error
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise ValueError(
            f"{str(path)!r} holds no triangles (a point cloud or empty file?); "
            "load a file with faces."
        )
    try:
        mesh = Mesh.from_trimesh(loaded)
        if image_view is not None:
            mesh = replace(mesh, image_view=image_view)
    except ValueError as error:
        raise _unreadable(path, str(error)) from error
    if suffix == ".obj" and mesh.uvs is not None:
        metallic_roughness = _obj_metallic_roughness(loaded, path.parent)
        if metallic_roughness is not None:
            mesh = replace(mesh, metallic_roughness=metallic_roughness)
    return mesh


def _unreadable(path: Path, reason: str) -> ValueError:
    """One line for a mesh file that exists but cannot be used: the file, what is wrong."""
    reason = " ".join(reason.split()) or "unknown error"
    return ValueError(f"Cannot load {str(path)!r}: {reason.rstrip('.')}; repair or re-export "
                      "the file.")

