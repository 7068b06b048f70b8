"""Learned background mattes, run only from weights already on the user's disk.

The pack must work offline, so nothing here downloads: each method first looks for its
weights where the user keeps them, and when they are missing says which file or folder
to put where (and where to get it). Their packages are imported only when used.

- ``"rmbg"``: BRIA RMBG-2.0, folder ``<models_dir>/rembg/RMBG-2.0`` (Hugging Face
  ``briaai/RMBG-2.0``; note its licence is non-commercial).
- ``"birefnet"``: BiRefNet, folder ``<models_dir>/rembg/BiRefNet`` (``ZhengPeng7/BiRefNet``).
  Both are BiRefNet networks whose architecture code ships inside the folder, so
  transformers loads them with ``trust_remote_code=True``, from that local folder only:
  the folder's Python files run, so it should hold a copy of the official repository.
- ``"rembg"``: the ``rembg`` package with U^2-Net (``u2net.onnx``, what Hunyuan3D's own
  demo uses), found in ``<models_dir>/rembg/``, ``$U2NET_HOME`` or ``~/.u2net/``.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

# In the order ``auto`` prefers them: the BiRefNet family matte finer than U^2-Net.
MODEL_METHODS = ("rmbg", "birefnet", "rembg")


@dataclass(frozen=True)
class _FolderModel:
    folder: str
    repo: str


_FOLDER_MODELS = {
    "rmbg": _FolderModel("RMBG-2.0", "briaai/RMBG-2.0"),
    "birefnet": _FolderModel("BiRefNet", "ZhengPeng7/BiRefNet"),
}
_REMBG_FILE = "u2net.onnx"
# rembg has no inference engine of its own; imported without onnxruntime, some releases
# print a message and end the whole process, so both are checked before importing it.
_REMBG_PACKAGES = ("rembg", "onnxruntime")
_REMBG_URL = "https://github.com/danielgatis/rembg/releases/download/v0.0.0/u2net.onnx"
# BiRefNet was trained at 1024 x 1024 with ImageNet normalisation.
_BIREFNET_SIZE = 1024
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class MissingWeightsError(FileNotFoundError):
    """A learned matte's weights are not on disk; the message says what to put where."""


class MattingModel(Protocol):
    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """Opacity ``[H, W]`` float32 in 0..1 for ``rgb`` float ``[H, W, 3]`` in 0..1."""


def available_model_methods(models_dir: Path | None) -> list[str]:
    """The learned methods whose weights and packages are present, best first."""
    available = []
    for method in MODEL_METHODS:
        try:
            _locate_weights(method, models_dir)
        except MissingWeightsError:
            continue
        packages = _REMBG_PACKAGES if method == "rembg" else ("transformers",)
        if all(importlib.util.find_spec(package) is not None for package in packages):
            available.append(method)
    return available


def load_matting_model(method: str, models_dir: Path | None, *, device: str = "cpu") -> MattingModel:
    """Load ``method``'s network from disk; raises ``MissingWeightsError`` if absent."""
    if method not in MODEL_METHODS:
        raise ValueError(f"unknown matting model {method!r}; use one of {', '.join(MODEL_METHODS)}")
    weights = _locate_weights(method, models_dir)
    if method == "rembg":
        return _RembgMatting(weights)
    return _BiRefNetMatting(weights, _FOLDER_MODELS[method].repo, device)


def _locate_weights(method: str, models_dir: Path | None) -> Path:
    if method == "rembg":
        return _locate_rembg_file(models_dir)
    spec = _FOLDER_MODELS[method]
    if models_dir is None:
        raise MissingWeightsError(
            f"method {method!r} loads its weights from <models_dir>/rembg/{spec.folder}, "
            "but no models_dir was given; pass the models folder (ComfyUI's models/)"
        )
    folder = Path(models_dir) / "rembg" / spec.folder
    has_config = (folder / "config.json").is_file()
    has_weights = any(folder.glob("*.safetensors")) or (folder / "pytorch_model.bin").is_file()
    if not (has_config and has_weights):
        raise MissingWeightsError(
            f"method {method!r} needs the folder {folder} holding config.json, the model's "
            f"*.py files and model.safetensors; download the Hugging Face repository "
            f"{spec.repo} into it (e.g. `hf download {spec.repo} --local-dir "
            f"{folder}`), or use method 'classical'"
        )
    return folder


def _locate_rembg_file(models_dir: Path | None) -> Path:
    candidates = []
    if models_dir is not None:
        candidates.append(Path(models_dir) / "rembg" / _REMBG_FILE)
    # rembg's own cache folder, by rembg's own rule.
    home = os.environ.get("U2NET_HOME", os.path.join(os.environ.get("XDG_DATA_HOME", "~"), ".u2net"))
    candidates.append(Path(home).expanduser() / _REMBG_FILE)
    for path in candidates:
        if path.is_file():
            return path
    raise MissingWeightsError(
        f"method 'rembg' needs {_REMBG_FILE} on disk and will not download it; put the file "
        f"from {_REMBG_URL} at one of: {', '.join(str(path) for path in candidates)}; "
        "or use method 'classical'"
    )


class _RembgMatting:
    def __init__(self, model_file: Path):
        missing = [package for package in _REMBG_PACKAGES if importlib.util.find_spec(package) is None]
        if missing:
            raise ImportError(
                f"method 'rembg' found {model_file} but the package(s) {', '.join(missing)} "
                "are not installed; run `pip install rembg onnxruntime` (or onnxruntime-gpu), "
                "or use another method"
            )
        from rembg import new_session

        # The "u2net_custom" session runs U^2-Net from the given file and, unlike the
        # named "u2net" session, never fetches or re-checks the file over the network.
        self._session = new_session("u2net_custom", model_path=str(model_file))

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        from PIL import Image

        pixels = np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        matte = self._session.predict(Image.fromarray(pixels, "RGB"))[0]
        return np.asarray(matte, dtype=np.float32) / 255


class _BiRefNetMatting:
    def __init__(self, folder: Path, repo: str, device: str):
        import torch
        import transformers
        from transformers import AutoModelForImageSegmentation

        self._device = torch.device(device)
        try:
            model = AutoModelForImageSegmentation.from_pretrained(
                str(folder), trust_remote_code=True, local_files_only=True,
            )
        except ImportError:
            raise
        except Exception as error:
            # The architecture is the folder's own code, written against some transformers
            # release; a stale or incomplete copy fails here in many different ways.
            raise RuntimeError(
                f"could not load the matting model in {folder} with transformers "
                f"{transformers.__version__}: {str(error).rstrip('.')}. Check that the folder holds the whole "
                f"repository {repo} (config.json, its *.py files, model.safetensors), "
                "downloaded recently, or use another method."
            ) from error
        self._model = model.to(self._device, torch.float32).eval()

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        height, width = rgb.shape[:2]
        pixels = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32))
        batch = pixels.permute(2, 0, 1)[None].to(self._device)
        batch = F.interpolate(batch, size=(_BIREFNET_SIZE, _BIREFNET_SIZE), mode="bilinear",
                              align_corners=False, antialias=True)
        mean = torch.tensor(_IMAGENET_MEAN, device=self._device).view(1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD, device=self._device).view(1, 3, 1, 1)
        with torch.no_grad():
            outputs = self._model((batch - mean) / std)
        # BiRefNet returns its side outputs coarse to fine; the last is the matte's logits.
        logits = outputs[-1] if isinstance(outputs, (list, tuple)) else outputs
        matte = F.interpolate(logits.float().sigmoid(), size=(height, width), mode="bilinear",
                              align_corners=False)
        return matte[0, 0].clamp(0, 1).cpu().numpy()
