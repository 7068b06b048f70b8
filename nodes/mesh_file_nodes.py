"""Save Mesh and Load Mesh: meshes to and from files in ComfyUI's output/input folders."""

from __future__ import annotations

from pathlib import Path

from ..hy3d_core.io.mesh_files import LOAD_FORMATS, load_mesh, save_mesh, unique_output_path
from .comfy_runtime import folder_paths, input_dir, output_dir
from .node_types import H3DMesh, as_meshes

CATEGORY = "Hunyuan3D/mesh"
SAVE_FORMATS = ["glb", "obj", "ply"]
NO_MESH_FILE = "(no mesh file in the input folder)"
# Saving picks the next free number; another writer taking it in between only costs a retry.
_SAVE_ATTEMPTS = 100


def _comfy_target(paths, prefix: str, extension: str, output: Path) -> tuple[Path, str, str]:
    """The next free ``<prefix>_NNNNN_.<ext>`` by ComfyUI's own numbering (as SaveGLB)."""
    folder, filename, counter, subfolder, _ = paths.get_save_image_path(prefix, str(output))
    name = f"{filename}_{counter:05}_.{extension}"
    return Path(folder) / name, name, subfolder


def _fallback_target(prefix: str, extension: str, output: Path) -> tuple[Path, str, str]:
    path = unique_output_path(output, prefix, extension)
    subfolder = path.parent.relative_to(output).as_posix()
    return path, path.name, "" if subfolder == "." else subfolder


class SaveMesh:
    DESCRIPTION = (
        "Writes each mesh of the batch to the output folder as GLB (texture embedded), OBJ "
        "(+ MTL and PNG) or PLY, never overwriting an earlier file. Connect its path to "
        "ComfyUI's Preview 3D to see it."
    )
    CATEGORY = CATEGORY
    FUNCTION = "save"
    OUTPUT_NODE = True
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_TOOLTIPS = (
        "Path of the first saved file relative to the output folder (what Preview 3D takes).",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "mesh": ("MESH", {"tooltip": "Any MESH, ours or ComfyUI's."}),
                "filename_prefix": ("STRING", {"default": "mesh/Hunyuan3D",
                                               "tooltip": "File name start, may include subfolders "
                                                          "of the output folder; a number is added."}),
                "file_format": (SAVE_FORMATS, {"default": "glb",
                                               "tooltip": "glb: one file, texture embedded; obj: "
                                                          "with MTL and PNG beside it; ply: no "
                                                          "texture."}),
            }
        }

    def save(self, mesh, filename_prefix: str, file_format: str):
        if file_format not in SAVE_FORMATS:
            raise ValueError(f"file_format must be one of {', '.join(SAVE_FORMATS)}, got {file_format!r}")
        output = output_dir()
        paths = folder_paths()
        results = []
        for item in as_meshes(mesh):
            results.append(self._save_one(item, filename_prefix, file_format, output, paths))
        relative = [f"{entry['subfolder']}/{entry['filename']}" if entry["subfolder"] else entry["filename"]
                    for entry in results]
        return {"ui": {"3d": results}, "result": (relative[0],)}

    @staticmethod
    def _save_one(item, prefix: str, extension: str, output: Path, paths) -> dict:
        for _ in range(_SAVE_ATTEMPTS):
            if paths is not None:
                target, name, subfolder = _comfy_target(paths, prefix, extension, output)
            else:
                target, name, subfolder = _fallback_target(prefix, extension, output)
            try:
                save_mesh(item, target)
            except FileExistsError:
                continue
            return {"filename": name, "subfolder": subfolder, "type": "output"}
        raise FileExistsError(f"Could not find a free file name for {prefix!r} in {output}.")


def _mesh_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in LOAD_FORMATS and not path.name.startswith(".")
    )


class LoadMesh:
    DESCRIPTION = (
        "Reads a mesh file (glb, gltf, obj, ply, stl) from the input folder, or from the path "
        "typed in. Every part of a scene is placed and merged into one mesh; UVs and a base "
        "colour texture are kept."
    )
    CATEGORY = CATEGORY
    FUNCTION = "load"
    RETURN_TYPES = ("MESH",)
    RETURN_NAMES = ("mesh",)
    OUTPUT_TOOLTIPS = ("The mesh (a batch of one).",)

    @classmethod
    def INPUT_TYPES(cls):
        files = _mesh_files(input_dir()) or [NO_MESH_FILE]
        return {
            "required": {
                "mesh_file": (files, {"default": files[0],
                                      "tooltip": "Mesh files in ComfyUI's input folder (and its "
                                                 "subfolders, such as input/3d)."}),
                "path": ("STRING", {"default": "",
                                    "tooltip": "A file path; when not empty it is used instead of "
                                               "the list (relative paths start in the input folder)."}),
            }
        }

    @classmethod
    def IS_CHANGED(cls, mesh_file, path):
        """Reload when the file changes on disk."""
        try:
            target = _resolve(mesh_file, path)
        except FileNotFoundError:
            return f"{mesh_file}|{path}"
        stat = target.stat()
        return f"{target}|{stat.st_mtime_ns}|{stat.st_size}"

    def load(self, mesh_file: str, path: str):
        return (H3DMesh.of([load_mesh(_resolve(mesh_file, path))]),)


def _resolve(mesh_file: str, path: str) -> Path:
    folder = input_dir()
    if path.strip():
        target = Path(path.strip()).expanduser()
        target = target if target.is_absolute() else folder / target
    elif mesh_file == NO_MESH_FILE:
        raise FileNotFoundError(
            f"No mesh file was chosen: put a .glb/.obj/.ply/.stl file in {folder} or type its path."
        )
    else:
        target = folder / mesh_file
    if not target.is_file():
        raise FileNotFoundError(f"No mesh file at {target}.")
    return target


NODE_CLASS_MAPPINGS = {
    "H3DSaveMesh": SaveMesh,
    "H3DLoadMesh": LoadMesh,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "H3DSaveMesh": "Hunyuan3D Save Mesh",
    "H3DLoadMesh": "Hunyuan3D Load Mesh",
}
