"""Hunyuan3D 2.0 as a plain Python library: models, sampling, geometry, texture, I/O.

Nothing here imports ComfyUI; the nodes in ``nodes/`` adapt these functions to it. Heavy
optional dependencies are imported inside the functions that need them.
"""
