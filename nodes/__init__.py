"""ComfyUI node classes: thin adapters between ComfyUI types and ``hy3d_core``."""

NODE_CLASS_MAPPINGS: dict = {}
NODE_DISPLAY_NAME_MAPPINGS: dict = {}
