"""ComfyUI entry point for the Hunyuan3D 2.0 node pack.

ComfyUI imports this folder as a package under whatever name the folder has, so every
import here is relative. Importing registers node classes only: no models, no heavy
libraries.
"""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
