"""Which models the loader nodes offer, and where each choice lives on disk.

Shape checkpoints are searched in three places (docs/architecture.md, Weights on disk): ``models/hunyuan3d/`` for official
folders (``config.yaml`` + weights, kept as released, possibly inside a downloaded
repository folder) and loose files; ``models/checkpoints/`` and
``models/diffusion_models/`` for ComfyUI's single files, which share those folders with
every other model, so only names mentioning Hunyuan3D are listed from them. The Paint and
Delight models are diffusers folders under ``models/hunyuan3d/``, named as released. One
walk (:func:`_scan`) finds them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..hy3d_core.demo import DEMO_MODEL_DIR
from .comfy_runtime import model_roots

OWN_KIND = "hunyuan3d"
SHARED_KINDS = ("checkpoints", "diffusion_models")
WEIGHT_SUFFIXES = (".safetensors", ".ckpt")
SHARED_NAME_MARKERS = ("hunyuan3d", "hunyuan_3d", "hy3d")  # ComfyUI's 2.1 file: hunyuan_3d_v2.1.safetensors
_MAX_DEPTH = 3
DEFAULT_FOLDER_REPO = "tencent/Hunyuan3D-2"
FOLDER_REPOS = {"hunyuan3d-paintpbr-v2-1": "tencent/Hunyuan3D-2.1"}
DINO_PREFIX = "dinov2"
AUTO_DINO = "auto"

NO_MODEL_FOUND = "(no Hunyuan3D model found)"
# Listed after the user's own models: the small model that ships with the pack, so a
# workflow runs before any download (it knows only simple procedural shapes).
DEMO_CHOICE = "demo model (ships with the pack; simple shapes only)"
WHERE_MODELS_GO = (
    "Put an official folder such as hunyuan3d-dit-v2-0/ (config.yaml + model.fp16.safetensors "
    "from huggingface.co/tencent/Hunyuan3D-2) or hunyuan3d-dit-v2-1/ (config.yaml + model.fp16.ckpt "
    "from huggingface.co/tencent/Hunyuan3D-2.1) in models/hunyuan3d/, or ComfyUI's single file "
    "(e.g. hunyuan3d-dit-v2_fp16.safetensors, hunyuan_3d_v2.1.safetensors) in models/checkpoints/ "
    "or models/diffusion_models/; "
    "standalone VAEs (hunyuan3d-vae-v2-0, -turbo, -withencoder) go in models/hunyuan3d/ too."
)


def _is_weights(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in WEIGHT_SUFFIXES and not path.name.startswith(".")


def _is_other_library_folder(folder: Path) -> bool:
    """Diffusers/transformers folders (Paint, Delight, mattes) are someone else's."""
    return (folder / "model_index.json").is_file() or (folder / "config.json").is_file()


def _is_release_folder(folder: Path) -> bool:
    return (folder / "config.yaml").is_file() and any(_is_weights(entry) for entry in folder.iterdir())


def _scan(root: Path, folder: Path, depth: int, found: dict[str, Path], *,
          is_model: Callable[[Path], bool], may_enter: Callable[[Path], bool]) -> None:
    """Add every entry under ``folder`` (down to ``_MAX_DEPTH`` below ``root``) that
    ``is_model`` accepts, named by its path under ``root``; a model is not searched
    inside, other folders only when ``may_enter`` allows."""
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if is_model(entry):
            found.setdefault(entry.relative_to(root).as_posix(), entry)
        elif entry.is_dir() and depth < _MAX_DEPTH and may_enter(entry):
            _scan(root, entry, depth + 1, found, is_model=is_model, may_enter=may_enter)


def _is_own_checkpoint(entry: Path) -> bool:
    """A release folder, or a loose weights file outside one."""
    if entry.is_dir():
        return not _is_other_library_folder(entry) and _is_release_folder(entry)
    return _is_weights(entry) and not (entry.parent / "config.yaml").is_file()


def _is_shared_checkpoint(entry: Path) -> bool:
    return _is_weights(entry) and any(marker in entry.name.lower() for marker in SHARED_NAME_MARKERS)


def available_checkpoints() -> dict[str, Path]:
    """Choice name -> path. Official folders keep their path under models/hunyuan3d/;
    shared files are named ``checkpoints/<file>`` or ``diffusion_models/<file>``."""
    found: dict[str, Path] = {}
    for root in model_roots(OWN_KIND):
        if root.is_dir():
            _scan(root, root, 1, found, is_model=_is_own_checkpoint,
                  may_enter=lambda folder: not _is_other_library_folder(folder))
    for kind in SHARED_KINDS:
        for root in model_roots(kind):
            if root.is_dir():
                shared: dict[str, Path] = {}
                _scan(root, root, 1, shared, is_model=_is_shared_checkpoint, may_enter=lambda folder: True)
                for name, path in shared.items():
                    found.setdefault(f"{kind}/{name}", path)
    return found


def _is_vae_only(name: str) -> bool:
    tokens = Path(name).name.lower().replace("_", "-").replace(".", "-").split("-")
    return "vae" in tokens and "dit" not in tokens


def _demo_choices() -> list[str]:
    return [DEMO_CHOICE] if (DEMO_MODEL_DIR / "config.yaml").is_file() else []


def shape_model_choices() -> list[str]:
    """Everything but standalone VAEs, the release's dit-v2-0 folder first when present,
    the shipped demo model last."""
    names = [name for name in available_checkpoints() if not _is_vae_only(name)]
    return _with_preferred_first(names + _demo_choices(), "hunyuan3d-dit-v2-0")


def shape_vae_choices() -> list[str]:
    """Standalone VAE folders first, then combined checkpoints (their VAE part is read)."""
    names = list(available_checkpoints())
    ordered = [name for name in names if _is_vae_only(name)] + [name for name in names if not _is_vae_only(name)]
    return _with_preferred_first(ordered, "hunyuan3d-vae-v2-0")


def _with_preferred_first(names: list[str], preferred: str) -> list[str]:
    if preferred in names:
        names = [preferred] + [name for name in names if name != preferred]
    return names or [NO_MODEL_FOUND]


def resolve_checkpoint(name: str) -> Path:
    """The path of a choice, or an error that says where models go."""
    roots = [str(root) for kind in (OWN_KIND, *SHARED_KINDS) for root in model_roots(kind)]
    searched = ", ".join(roots) if roots else "no model folder (outside ComfyUI, set HY3D_MODELS_DIR)"
    if name == NO_MODEL_FOUND:
        raise FileNotFoundError(f"No Hunyuan3D model was found in {searched}. {WHERE_MODELS_GO}")
    if name == DEMO_CHOICE and _demo_choices():
        return DEMO_MODEL_DIR
    found = available_checkpoints()
    if name not in found:
        raise FileNotFoundError(f"{name!r} is not in {searched} (any more?). {WHERE_MODELS_GO}")
    return found[name]


def where_folder_goes(prefixes: str | tuple[str, ...]) -> str:
    """Where each released diffusers folder comes from and goes (``prefixes``: their names)."""
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return " Or ".join(
        f"{'D' if index == 0 else 'd'}ownload the folder {prefix}/ of huggingface.co/"
        f"{FOLDER_REPOS.get(prefix, DEFAULT_FOLDER_REPO)} whole (model_index.json, unet/, vae/, scheduler/ "
        f"and the rest) and put it at ComfyUI/models/hunyuan3d/{prefix}/."
        for index, prefix in enumerate(prefixes)
    )


def diffusers_folders(prefix: str | tuple[str, ...], needs_unet: bool) -> dict[str, Path]:
    """Choice name (path under models/hunyuan3d/) -> folder, for diffusers folders named
    ``prefix*`` (any of several prefixes when a tuple; with a ``unet/`` when ``needs_unet``)."""
    def is_model(entry: Path) -> bool:
        return (entry.is_dir() and entry.name.lower().startswith(prefix)
                and (entry / "model_index.json").is_file()
                and (not needs_unet or (entry / "unet").is_dir()))

    found: dict[str, Path] = {}
    for root in model_roots(OWN_KIND):
        if root.is_dir():
            _scan(root, root, 1, found, is_model=is_model,
                  may_enter=lambda folder: not (folder / "model_index.json").is_file())
    return found


def diffusers_folder_choices(prefix: str | tuple[str, ...], needs_unet: bool, nothing: str) -> list[str]:
    """The folders found, those named exactly as released first; ``[nothing]`` when none."""
    released = (prefix,) if isinstance(prefix, str) else prefix
    names = sorted(diffusers_folders(prefix, needs_unet), key=lambda name: (Path(name).name not in released, name))
    return names or [nothing]


def resolve_diffusers_folder(name: str, prefix: str | tuple[str, ...], needs_unet: bool, nothing: str) -> Path:
    """The folder of a choice, or an error that says where the folder goes."""
    roots = [str(root) for root in model_roots(OWN_KIND)]
    searched = ", ".join(roots) if roots else "no model folder (outside ComfyUI, set HY3D_MODELS_DIR)"
    found = diffusers_folders(prefix, needs_unet)
    if name == nothing or name not in found:
        what = "No folder was chosen" if name == nothing else f"{name!r} was not found"
        raise FileNotFoundError(f"{what} in {searched}. {where_folder_goes(prefix)}")
    return found[name]


def dino_folders() -> dict[str, Path]:
    """Choice name (path under models/hunyuan3d/) -> folder, for transformers DINOv2
    folders (``dinov2*`` with a ``config.json``), the image encoder Paint 2.1 needs."""
    def is_model(entry: Path) -> bool:
        return entry.is_dir() and entry.name.lower().startswith(DINO_PREFIX) and (entry / "config.json").is_file()

    found: dict[str, Path] = {}
    for root in model_roots(OWN_KIND):
        if root.is_dir():
            _scan(root, root, 1, found, is_model=is_model,
                  may_enter=lambda folder: not _is_other_library_folder(folder))
    return found


def dino_folder_choices() -> list[str]:
    """``auto`` (Paint 2.1's own search), then every DINOv2 folder found."""
    return [AUTO_DINO, *sorted(dino_folders())]


def resolve_dino_folder(name: str) -> Path | None:
    """The folder of a DINOv2 choice; None for ``auto``."""
    if name == AUTO_DINO:
        return None
    found = dino_folders()
    if name not in found:
        roots = ", ".join(str(root) for root in model_roots(OWN_KIND)) or "no model folder"
        raise FileNotFoundError(
            f"The DINOv2 folder {name!r} was not found in {roots} (any more?); pick 'auto' or put "
            "facebook/dinov2-giant at ComfyUI/models/hunyuan3d/dinov2-giant/."
        )
    return found[name]
