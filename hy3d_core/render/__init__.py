"""Rendering for the texture stage: cameras, mesh normalisation, rasterizers, maps.

``rasterizer.get_rasterizer`` picks nvdiffrast on CUDA when installed and otherwise the
pure PyTorch rasterizer; both follow the same conventions (see ``rasterizer.py``).
"""
