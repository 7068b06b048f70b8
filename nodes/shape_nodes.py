"""The shape stages: sampling, volume decoding, surface extraction, clean-up, mesh encoding.

Latents cross node boundaries as ComfyUI LATENTs in the layout of its own Hunyuan3D
nodes (``nodes/comfy_formats.py``), so ComfyUI's VAEDecodeHunyuan3D decodes ours and
Decode Shape Volume decodes what its EmptyLatentHunyuan3Dv2 + KSampler produce.
"""

from __future__ import annotations

import torch

from .comfy_formats import COMFY_LATENT_TYPE, latents_from_comfy, latents_to_comfy
from ..hy3d_core.geometry.cleanup import clean_mesh
from ..hy3d_core.geometry.volume_decoding import DEFAULT_NUM_CHUNKS
from ..hy3d_core.models.families import HUNYUAN3D_2_0
from ..hy3d_core.models.shape_model import ShapeModel
from ..hy3d_core.pipelines import (
    DECODERS,
    SamplingSettings,
    SurfaceSettings,
    VolumeSettings,
    decode_volume,
    grid_to_meshes,
    sample_latents,
)
from ..hy3d_core.pipelines.encoding import encode_mesh
from .comfy_runtime import in_use, run_interruptible
from .node_types import (
    CONDITION,
    SHAPE_MODEL,
    SHAPE_VAE,
    H3DMesh,
    H3DVoxel,
    ShapeCondition,
    ShapeVAEHandle,
    as_meshes,
    on_intermediate_device,
    voxel_logits,
)

CATEGORY = "Hunyuan3D/shape"
RELEASE = HUNYUAN3D_2_0.defaults
# The grid ComfyUI's own Hunyuan3D nodes decode at: a quarter of the release's cells' time
# and memory, so the node starts there (the release's 384 is one step away).
COMFY_OCTREE_RESOLUTION = 256
MESH_CATEGORY = "Hunyuan3D/mesh"
MAX_SEED = 0xFFFFFFFFFFFFFFFF
_LATENT_TOOLTIP = (
    "Shape latents in ComfyUI's Hunyuan3D layout [batch, 64, tokens] (divided by the VAE's "
    "scale factor), as ComfyUI's VAEDecodeHunyuan3D reads them."
)


def _latent(latents: torch.Tensor, scale_factor: float) -> dict:
    return {"samples": on_intermediate_device(latents_to_comfy(latents, scale_factor)),
            "type": COMFY_LATENT_TYPE}


class SampleShape:
    DESCRIPTION = (
        "Generates shape latents with the DiT by flow matching, as the release does: steps model "
        "calls from seeded noise, classifier-free guidance against an all-zero condition "
        "(guidance-distilled 'fast' models take the guidance value directly)."
    )
    CATEGORY = CATEGORY
    FUNCTION = "sample"
    RETURN_TYPES = ("LATENT",)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = (_LATENT_TOOLTIP,)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "model": (SHAPE_MODEL, {"tooltip": "From Load Shape Model."}),
                "condition": (CONDITION, {"tooltip": "From Encode Image or Encode Multi-View, made "
                                                     "with the same model."}),
                "seed": ("INT", {"default": 0, "min": 0, "max": MAX_SEED, "control_after_generate": True,
                                 "tooltip": "Seed of the starting noise; the same seed gives the same "
                                            "shape on any device."}),
                "steps": ("INT", {"default": RELEASE.steps, "min": 1, "max": 200,
                                  "tooltip": f"Model calls (the release uses {RELEASE.steps}, its "
                                             "demo 30; turbo models about 5)."}),
                "guidance": ("FLOAT", {"default": RELEASE.guidance, "min": -1.0, "max": 100.0, "step": 0.1,
                                       "tooltip": "Classifier-free guidance scale (release: "
                                                  f"{RELEASE.guidance}). A negative value turns "
                                                  "guidance off (one model call per step)."}),
                "skip_last_call": ("BOOLEAN", {"default": True,
                                               "tooltip": "The release's last model call is a step "
                                                          "of length zero: skipping it gives the same "
                                                          "latents one call sooner."}),
            }
        }

    def sample(self, model: ShapeModel, condition: ShapeCondition, seed: int, steps: int,
               guidance: float, skip_last_call: bool):
        if model.dit is None or model.configs.vae is None:
            raise ValueError(f"{model.source} was loaded without its DiT or VAE config; load a full "
                             "shape checkpoint such as hunyuan3d-dit-v2-0.")
        width = model.dit.config.context_in_dim
        if condition.context.shape[-1] != width:
            raise ValueError(
                f"The condition has {condition.context.shape[-1]} features per token but this DiT "
                f"takes {width}: encode the image with the same model you sample with."
            )
        settings = SamplingSettings(steps=steps, guidance=guidance, seed=seed, skip_last_call=skip_last_call)
        with in_use(model.dit):
            latents = run_interruptible(lambda progress: sample_latents(
                model.dit, condition.context, model.configs.num_latents, settings, progress
            ))
        return (_latent(latents, model.configs.vae.scale_factor),)


def _sampler_latents(samples: dict, vae: ShapeVAEHandle) -> torch.Tensor:
    if not isinstance(samples, dict) or not isinstance(samples.get("samples"), torch.Tensor):
        raise ValueError("This LATENT has no 'samples' tensor; connect a shape latent (Sample Shape, "
                         "Encode Mesh, or ComfyUI's EmptyLatentHunyuan3Dv2 + KSampler).")
    kind = samples.get("type")
    if kind is not None and kind != COMFY_LATENT_TYPE:
        raise ValueError(f"This LATENT is of type {kind!r}, not a Hunyuan3D shape latent ({COMFY_LATENT_TYPE!r}).")
    return latents_from_comfy(samples["samples"], vae.scale_factor, vae.vae.config.embed_dim)


class DecodeShapeVolume:
    DESCRIPTION = (
        "Evaluates the ShapeVAE's occupancy field on a grid over [-1.01, 1.01]^3. dense: every "
        "point (as released); hierarchical: coarse to fine, only near the surface (same surface, "
        "much faster); flashvdm: hierarchical plus attention to the nearest latents only "
        "(fastest; made for hunyuan3d-vae-v2-0-turbo). Load Shape Model's vae output, or Load "
        "Shape VAE on the same file, gives the VAE of a combined checkpoint."
    )
    CATEGORY = CATEGORY
    FUNCTION = "decode"
    RETURN_TYPES = ("VOXEL",)
    RETURN_NAMES = ("voxel",)
    OUTPUT_TOOLTIPS = (
        "Occupancy logits (positive inside). ComfyUI's VoxelToMesh also accepts it (its .data "
        "view maps logits to 0..1 as ComfyUI does; use the dense decoder for that).",
    )

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "vae": (SHAPE_VAE, {"tooltip": "From Load Shape Model (its vae output) or Load Shape VAE."}),
                "latent": ("LATENT", {"tooltip": _LATENT_TOOLTIP}),
                "decoder": (list(DECODERS), {"default": RELEASE.decoder,
                                             "tooltip": "dense: as released; hierarchical: same "
                                                        "surface, much faster; flashvdm: fastest, "
                                                        "slightly approximate."}),
                "octree_resolution": ("INT", {"default": COMFY_OCTREE_RESOLUTION, "min": 16, "max": 1024,
                                              "step": 1,
                                              "tooltip": "Grid cells per axis (ComfyUI uses "
                                                         f"{COMFY_OCTREE_RESOLUTION}, the release "
                                                         f"{RELEASE.octree_resolution}). Memory and "
                                                         "time grow with its cube."}),
                "num_chunks": ("INT", {"default": DEFAULT_NUM_CHUNKS, "min": 1000, "max": 1000000,
                                       "step": 1000,
                                       "tooltip": "Points evaluated per batch: larger is faster "
                                                  "and needs more memory."}),
                "mc_level": ("FLOAT", {"default": 0.0, "min": -10.0, "max": 10.0, "step": 0.01,
                                       "tooltip": "The surface level the coarse-to-fine decoders "
                                                  "refine around; use Extract Surface's level."}),
            }
        }

    def decode(self, vae: ShapeVAEHandle, latent: dict, decoder: str, octree_resolution: int,
               num_chunks: int, mc_level: float):
        latents = _sampler_latents(latent, vae)
        settings = VolumeSettings(decoder=decoder, octree_resolution=octree_resolution, num_chunks=num_chunks)
        with in_use(vae.vae):
            grid = run_interruptible(lambda progress: decode_volume(
                vae.vae, latents, settings, progress, surface_level=mc_level
            ))
        return (H3DVoxel(logits=on_intermediate_device(grid), bounds=settings.bounds),)


class ExtractSurface:
    DESCRIPTION = "Marching cubes on the occupancy field, in the release's coordinate frame."
    CATEGORY = MESH_CATEGORY
    FUNCTION = "extract"
    RETURN_TYPES = ("MESH",)
    RETURN_NAMES = ("mesh",)
    OUTPUT_TOOLTIPS = ("One mesh per batch item; ComfyUI's SaveGLB accepts it.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "voxel": ("VOXEL", {"tooltip": "From Decode Shape Volume, or ComfyUI's "
                                               "VAEDecodeHunyuan3D (whose values are clamped to "
                                               "-1..1 logits)."}),
                "level": ("FLOAT", {"default": 0.0, "min": -10.0, "max": 10.0, "step": 0.01,
                                    "tooltip": "Occupancy logit of the surface (release: 0). For "
                                               "ComfyUI's own voxels keep it within -1..1."}),
                "release_mapping": ("BOOLEAN", {"default": True,
                                                "tooltip": "Map vertices as the release does "
                                                           "(dividing by R+1, a slight shrink); "
                                                           "off: the exact grid coordinates."}),
                "close_at_bounds": ("BOOLEAN", {"default": True,
                                                "tooltip": "Cap a shape that reaches the grid's "
                                                           "edge, so the mesh stays closed; off: "
                                                           "leave it open there, as the release "
                                                           "does."}),
            }
        }

    def extract(self, voxel, level: float, release_mapping: bool, close_at_bounds: bool):
        logits, bounds = voxel_logits(voxel)
        surface = SurfaceSettings(mc_level=level, release_mapping=release_mapping,
                                  close_at_bounds=close_at_bounds, postprocess=False)
        return (H3DMesh.of(grid_to_meshes(logits, surface, bounds)),)


class PostprocessMesh:
    DESCRIPTION = (
        "The release's clean-up: drop floating pieces (under 0.5 % of the largest piece's faces), "
        "drop zero-area faces, then decimate to a face budget."
    )
    CATEGORY = MESH_CATEGORY
    FUNCTION = "clean"
    RETURN_TYPES = ("MESH",)
    RETURN_NAMES = ("mesh",)
    OUTPUT_TOOLTIPS = ("The cleaned meshes.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "mesh": ("MESH", {"tooltip": "Any MESH, ours or ComfyUI's."}),
                "remove_floaters": ("BOOLEAN", {"default": True, "tooltip": "Drop small disconnected pieces."}),
                "remove_degenerate": ("BOOLEAN", {"default": True, "tooltip": "Drop faces of zero area."}),
                "max_faces": ("INT", {"default": RELEASE.max_faces, "min": 0, "max": 10000000, "step": 1000,
                                      "tooltip": "Decimate to about this many faces (the demo's "
                                                 f"{RELEASE.max_faces}); 0 keeps every face."}),
            }
        }

    def clean(self, mesh, remove_floaters: bool, remove_degenerate: bool, max_faces: int):
        budget = max_faces if max_faces > 0 else None
        cleaned = [
            clean_mesh(item, remove_floaters=remove_floaters, remove_degenerate=remove_degenerate,
                       max_faces=budget)
            for item in as_meshes(mesh)
        ]
        return (H3DMesh.of(cleaned),)


class EncodeMesh:
    DESCRIPTION = (
        "Mesh -> shape latents through the ShapeVAE's point-cloud encoder (needs "
        "hunyuan3d-vae-v2-0-withencoder, or the hunyuan3d-dit-v2-1 folder, whose VAE has "
        "one). The mesh is normalised into the VAE's cube first."
    )
    CATEGORY = CATEGORY
    FUNCTION = "encode"
    RETURN_TYPES = ("LATENT",)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = (_LATENT_TOOLTIP,)

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "vae": (SHAPE_VAE, {"tooltip": "A VAE with an encoder: Load Shape VAE with "
                                               "hunyuan3d-vae-v2-0-withencoder or hunyuan3d-dit-v2-1."}),
                "mesh": ("MESH", {"tooltip": "Any MESH, ours or ComfyUI's."}),
                "seed": ("INT", {"default": 0, "min": 0, "max": MAX_SEED, "control_after_generate": True,
                                 "tooltip": "Seed of the surface sampling (and of the posterior "
                                            "sample); the same seed gives the same latents."}),
                "sample_posterior": ("BOOLEAN", {"default": False,
                                                 "tooltip": "Draw from the encoder's distribution "
                                                            "instead of taking its mean."}),
            }
        }

    def encode(self, vae: ShapeVAEHandle, mesh, seed: int, sample_posterior: bool):
        with in_use(vae.vae):
            latents = torch.cat([
                encode_mesh(vae.vae, item, seed=seed, sample_posterior=sample_posterior)
                for item in as_meshes(mesh)
            ])
        return (_latent(latents, vae.scale_factor),)


NODE_CLASS_MAPPINGS = {
    "H3DSampleShape": SampleShape,
    "H3DDecodeShapeVolume": DecodeShapeVolume,
    "H3DExtractSurface": ExtractSurface,
    "H3DPostprocessMesh": PostprocessMesh,
    "H3DEncodeMesh": EncodeMesh,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "H3DSampleShape": "Hunyuan3D Sample Shape",
    "H3DDecodeShapeVolume": "Hunyuan3D Decode Shape Volume",
    "H3DExtractSurface": "Hunyuan3D Extract Surface",
    "H3DPostprocessMesh": "Hunyuan3D Postprocess Mesh",
    "H3DEncodeMesh": "Hunyuan3D Encode Mesh",
}
