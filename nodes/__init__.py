"""ComfyUI node classes: thin adapters between ComfyUI types and ``hy3d_core``.

Importing registers ``models/hunyuan3d`` with ComfyUI (when it is there) and collects the
node classes; no model is built and no heavy library is imported until a node runs.
"""

from . import (
    condition_nodes,
    image_nodes,
    loader_nodes,
    mesh_file_nodes,
    paint_nodes,
    shape_nodes,
    texture_nodes,
)
from .comfy_runtime import register_model_folder

register_model_folder()

_MODULES = (image_nodes, loader_nodes, condition_nodes, shape_nodes, mesh_file_nodes, texture_nodes,
            paint_nodes)

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
for _module in _MODULES:
    NODE_CLASS_MAPPINGS.update(_module.NODE_CLASS_MAPPINGS)
    NODE_DISPLAY_NAME_MAPPINGS.update(_module.NODE_DISPLAY_NAME_MAPPINGS)

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
