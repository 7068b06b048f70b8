"""Declarations of the ComfyUI core nodes our workflows use, copied as data from ComfyUI's
source (``nodes.py``, ``comfy_extras/nodes_hunyuan3d.py``, ``comfy_extras/nodes_load_3d.py``,
``comfy_extras/nodes_video_model.py``, ``comfy/samplers.py``; ComfyUI 0.3.6x-0.7), in the
shape ``GET /object_info`` reports, so the workflow tests can check links and widget
values of core nodes without ComfyUI installed.

Only what the checks read is kept: input types and widget options, outputs, and whether
the node is an output node. Combo lists whose content depends on the user's files (model
and image names) are ``FILE_COMBO``: any string is accepted there.
"""

FILE_COMBO = "FILE_COMBO"

_KSAMPLER_NAMES = [
    "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2",
    "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp",
    "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm",
    "ipndm", "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp",
    "res_multistep_ancestral", "res_multistep_ancestral_cfg_pp", "gradient_estimation",
    "gradient_estimation_cfg_pp", "er_sde", "seeds_2", "seeds_3",
]
SAMPLER_NAMES = _KSAMPLER_NAMES + ["ddim", "uni_pc", "uni_pc_bh2"]
SCHEDULER_NAMES = [
    "simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
    "linear_quadratic", "kl_optimal",
]
MAX_RESOLUTION = 16384

CORE_NODES = {
    "LoadImage": {
        "input": {"required": {"image": (FILE_COMBO, {"image_upload": True})}},
        "output": ("IMAGE", "MASK"),
        "output_node": False,
    },
    "CheckpointLoaderSimple": {
        "input": {"required": {"ckpt_name": (FILE_COMBO, {})}},
        "output": ("MODEL", "CLIP", "VAE"),
        "output_node": False,
    },
    "ImageOnlyCheckpointLoader": {
        "input": {"required": {"ckpt_name": (FILE_COMBO, {})}},
        "output": ("MODEL", "CLIP_VISION", "VAE"),
        "output_node": False,
    },
    "CLIPTextEncode": {
        "input": {"required": {
            "text": ("STRING", {"multiline": True, "dynamicPrompts": True}),
            "clip": ("CLIP", {}),
        }},
        "output": ("CONDITIONING",),
        "output_node": False,
    },
    "EmptyLatentImage": {
        "input": {"required": {
            "width": ("INT", {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8}),
            "height": ("INT", {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8}),
            "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096}),
        }},
        "output": ("LATENT",),
        "output_node": False,
    },
    "KSampler": {
        "input": {"required": {
            "model": ("MODEL", {}),
            "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF,
                             "control_after_generate": True}),
            "steps": ("INT", {"default": 20, "min": 1, "max": 10000}),
            "cfg": ("FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01}),
            "sampler_name": (SAMPLER_NAMES, {}),
            "scheduler": (SCHEDULER_NAMES, {}),
            "positive": ("CONDITIONING", {}),
            "negative": ("CONDITIONING", {}),
            "latent_image": ("LATENT", {}),
            "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01}),
        }},
        "output": ("LATENT",),
        "output_node": False,
    },
    "VAEDecode": {
        "input": {"required": {"samples": ("LATENT", {}), "vae": ("VAE", {})}},
        "output": ("IMAGE",),
        "output_node": False,
    },
    "PreviewImage": {
        "input": {"required": {"images": ("IMAGE", {})}},
        "output": (),
        "output_node": True,
    },
    "EmptyLatentHunyuan3Dv2": {
        "input": {"required": {
            "resolution": ("INT", {"default": 3072, "min": 1, "max": 8192}),
            "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096}),
        }},
        "output": ("LATENT",),
        "output_node": False,
    },
    "Hunyuan3Dv2Conditioning": {
        "input": {"required": {"clip_vision_output": ("CLIP_VISION_OUTPUT", {})}},
        "output": ("CONDITIONING", "CONDITIONING"),
        "output_node": False,
    },
    "Hunyuan3Dv2ConditioningMultiView": {
        "input": {"required": {}, "optional": {
            "front": ("CLIP_VISION_OUTPUT", {}),
            "left": ("CLIP_VISION_OUTPUT", {}),
            "back": ("CLIP_VISION_OUTPUT", {}),
            "right": ("CLIP_VISION_OUTPUT", {}),
        }},
        "output": ("CONDITIONING", "CONDITIONING"),
        "output_node": False,
    },
    "VAEDecodeHunyuan3D": {
        "input": {"required": {
            "samples": ("LATENT", {}),
            "vae": ("VAE", {}),
            "num_chunks": ("INT", {"default": 8000, "min": 1000, "max": 500000}),
            "octree_resolution": ("INT", {"default": 256, "min": 16, "max": 512}),
        }},
        "output": ("VOXEL",),
        "output_node": False,
    },
    "VoxelToMeshBasic": {
        "input": {"required": {
            "voxel": ("VOXEL", {}),
            "threshold": ("FLOAT", {"default": 0.6, "min": -1.0, "max": 1.0, "step": 0.01}),
        }},
        "output": ("MESH",),
        "output_node": False,
    },
    "VoxelToMesh": {
        "input": {"required": {
            "voxel": ("VOXEL", {}),
            "algorithm": (["surface net", "basic"], {}),
            "threshold": ("FLOAT", {"default": 0.6, "min": -1.0, "max": 1.0, "step": 0.01}),
        }},
        "output": ("MESH",),
        "output_node": False,
    },
    "SaveGLB": {
        "input": {"required": {
            "mesh": ("MESH", {}),
            "filename_prefix": ("STRING", {"default": "mesh/ComfyUI"}),
        }},
        "output": (),
        "output_node": True,
    },
    "Preview3D": {
        "input": {"required": {
            "model_file": ("STRING", {"default": "", "multiline": False}),
        }, "optional": {
            "camera_info": ("LOAD3D_CAMERA", {}),
            "bg_image": ("IMAGE", {}),
        }},
        "output": (),
        "output_node": True,
    },
}

FRONTEND_ONLY = {"Note", "MarkdownNote"}
"""Nodes the frontend draws but never sends to the server; their one widget is the text."""

CORE_NODE_IDS = set(CORE_NODES) | FRONTEND_ONLY | {
    "SaveImage", "ImageScale", "ImageInvert", "JoinImageWithAlpha", "SplitImageWithAlpha",
    "CLIPVisionLoader", "CLIPVisionEncode", "VAELoader", "UNETLoader", "KSamplerAdvanced",
    "ModelSamplingAuraFlow", "Load3D", "Load3DAnimation", "Preview3DAnimation",
    "SaveAnimatedWEBP", "PrimitiveNode", "Reroute",
}
"""Ids core ComfyUI registers (those above and more); ours must differ from every one."""
