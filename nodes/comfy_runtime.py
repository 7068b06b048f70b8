"""ComfyUI's runtime services, used when ComfyUI is there and replaced when it is not.

The pack must import and run without ComfyUI (tests, scripts), so every ComfyUI module
is looked up at call time: device choice, where networks wait between uses, memory
release, progress bars, the interrupt button and the model/input/output folders.
"""

from __future__ import annotations

import importlib
import logging
import os
import weakref
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterable, Iterator, TypeVar

import torch

from ..hy3d_core import devices
from ..hy3d_core.sampling.progress import Cancelled, Progress

MODELS_DIR_ENV = "HY3D_MODELS_DIR"
INPUT_DIR_ENV = "HY3D_INPUT_DIR"
OUTPUT_DIR_ENV = "HY3D_OUTPUT_DIR"

# ComfyUI takes an input for a choice when its type is a list.
DEVICE_CHOICES = list(devices.DEVICE_CHOICES)
DTYPE_CHOICES = list(devices.DTYPE_CHOICES)
AUTO_DTYPE_RULE = devices.AUTO_DTYPE_RULE

_log = logging.getLogger(__name__)

Result = TypeVar("Result")
Loaded = TypeVar("Loaded")


def optional_module(name: str) -> ModuleType | None:
    """``importlib.import_module(name)``, or None outside ComfyUI."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def model_management() -> ModuleType | None:
    return optional_module("comfy.model_management")


def folder_paths() -> ModuleType | None:
    return optional_module("folder_paths")


def torch_device(choice: str) -> torch.device:
    """The device for ``choice``; "auto" is ComfyUI's device, else CUDA, MPS, then CPU."""
    management = model_management()
    preferred = management.get_torch_device() if management is not None else None
    return devices.resolve_device(choice, preferred)


def torch_dtype(choice: str, device: torch.device) -> torch.dtype:
    """The dtype for ``choice`` on ``device``, as the library resolves it; what "auto"
    picked and why goes to ComfyUI's log (its console), as the command line prints it."""
    dtype, reason = devices.explain_dtype(choice, device)
    if choice == "auto":
        _log.info("Hunyuan3D: %s", reason)
    return dtype


def free_memory() -> None:
    """Hand cached GPU memory back after a model is dropped."""
    management = model_management()
    if management is not None:
        management.soft_empty_cache()
    elif torch.cuda.is_available():
        torch.cuda.empty_cache()


def make_room(num_bytes: int, device: torch.device) -> None:
    """Ask ComfyUI to unload its own models until ``num_bytes`` fit on ``device``; ours
    are not ModelPatchers, so ComfyUI cannot count them and would not do it by itself."""
    management = model_management()
    release = getattr(management, "free_memory", None) if management is not None else None
    if release is not None and device.type != "cpu":
        release(num_bytes, device)


# The device each parked network runs on, while it waits on ComfyUI's offload device.
_run_devices: "weakref.WeakKeyDictionary[torch.nn.Module, torch.device]" = weakref.WeakKeyDictionary()


def offload_device(run_device: torch.device) -> torch.device:
    """Where a network waits between uses: ComfyUI's offload device (the CPU, unless
    ComfyUI runs with --highvram) for a network that runs on a GPU; where it
    runs otherwise, and always without ComfyUI (scripts, tests)."""
    management = model_management()
    if management is None or run_device.type == "cpu":
        return run_device
    return torch.device(management.unet_offload_device())


def park(run_device: torch.device, *networks: torch.nn.Module | None) -> None:
    """Remember that these networks, loaded on ``offload_device(run_device)``, run on
    ``run_device``; ``in_use`` moves them there and back."""
    for network in networks:
        if network is not None:
            _run_devices[network] = run_device


def load_parked(
    run_device: torch.device,
    num_bytes: int,
    load: Callable[[torch.device], Loaded],
    networks: Callable[[Loaded], Iterable[torch.nn.Module | None]],
) -> Loaded:
    """``load(device)`` onto the device its networks wait on (room made there first), with
    ``networks(loaded)`` parked for ``run_device``."""
    load_device = offload_device(run_device)
    make_room(num_bytes, load_device)
    loaded = load(load_device)
    park(run_device, *networks(loaded))
    return loaded


@contextmanager
def in_use(*networks: torch.nn.Module) -> Iterator[None]:
    """The parked networks on their run device for the block, then back on the offload
    device with the GPU memory handed back, also when the block fails or is cancelled.

    ComfyUI unloads its own models for them first. A network moves whole, so its weights
    are never split between two devices.
    """
    moving = [(network, _run_devices[network]) for network in networks
              if network in _run_devices and not _same_device(_device_of(network), _run_devices[network])]
    for network, run_device in moving:
        weights = sum(tensor.numel() * tensor.element_size() for tensor in network.state_dict().values())
        make_room(weights, run_device)
        network.to(run_device)
    try:
        yield
    finally:
        for network, run_device in moving:
            network.to(offload_device(run_device))
        if moving:
            free_memory()


def _device_of(network: torch.nn.Module) -> torch.device:
    return next(network.parameters()).device


def _same_device(first: torch.device, second: torch.device) -> bool:
    """"cuda" and "cuda:0" are one device (a tensor always reports its index)."""
    return first.type == second.type and (first.index or 0) == (second.index or 0)


def progress_reporter() -> Progress:
    """A Progress wired to ComfyUI's progress bar and interrupt button (no-ops without)."""
    utils = optional_module("comfy.utils")
    management = model_management()
    bar = None

    def report(done: int, total: int) -> None:
        nonlocal bar
        if utils is None:
            return
        if bar is None:
            bar = utils.ProgressBar(total)
        bar.update_absolute(done, total)

    should_cancel = management.processing_interrupted if management is not None else None
    return Progress(callback=report, should_cancel=should_cancel)


def run_interruptible(work: Callable[[Progress], Result]) -> Result:
    """Run ``work(progress)``; a cancel becomes ComfyUI's interrupt exception, which
    ComfyUI reports as "interrupted" rather than as an error."""
    management = model_management()
    if management is not None:
        management.throw_exception_if_processing_interrupted()
    try:
        return work(progress_reporter())
    except Cancelled as cancelled:
        interrupt = getattr(management, "InterruptProcessingException", None)
        if interrupt is None:
            raise
        raise interrupt() from cancelled


def _environment_folder(variable: str, default: Path | None) -> Path | None:
    value = os.environ.get(variable)
    if value:
        return Path(value).expanduser()
    return default


def model_roots(kind: str) -> list[Path]:
    """Folders holding models of ``kind`` (hunyuan3d, checkpoints, diffusion_models).

    Under ComfyUI: its registered folders (extra_model_paths.yaml included). Without it:
    ``$HY3D_MODELS_DIR/<kind>``.
    """
    paths = folder_paths()
    if paths is not None:
        try:
            return [Path(folder) for folder in paths.get_folder_paths(kind)]
        except KeyError:
            return []
    root = _environment_folder(MODELS_DIR_ENV, None)
    return [root / kind] if root is not None else []


def models_dir() -> Path | None:
    """ComfyUI's ``models/`` folder, or ``$HY3D_MODELS_DIR``."""
    paths = folder_paths()
    if paths is not None:
        return Path(paths.models_dir)
    return _environment_folder(MODELS_DIR_ENV, None)


def register_model_folder() -> None:
    """Make ``models/hunyuan3d`` a ComfyUI model folder (extra_model_paths.yaml can add more)."""
    paths = folder_paths()
    if paths is not None:
        paths.add_model_folder_path("hunyuan3d", os.path.join(paths.models_dir, "hunyuan3d"))


def input_dir() -> Path:
    paths = folder_paths()
    if paths is not None:
        return Path(paths.get_input_directory())
    return _environment_folder(INPUT_DIR_ENV, Path("input"))


def output_dir() -> Path:
    paths = folder_paths()
    if paths is not None:
        return Path(paths.get_output_directory())
    return _environment_folder(OUTPUT_DIR_ENV, Path("output"))
