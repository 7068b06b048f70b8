"""What single nodes do: the data conventions shared with ComfyUI's own nodes, saving
without overwriting, progress and cancellation through ComfyUI's services, model
discovery and caching, and the errors a user can cause."""

import os
import sys
import types
import weakref
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import trimesh

from graph_runner import load_pack, pack_module, run_node, write_tiny_models

NODES = load_pack().NODE_CLASS_MAPPINGS
node_types = pack_module("nodes.node_types")
model_files = pack_module("nodes.model_files")
model_cache = pack_module("nodes.model_cache")
comfy_runtime = pack_module("nodes.comfy_runtime")
pipelines = pack_module("hy3d_core.pipelines")
Mesh = pack_module("hy3d_core.geometry.mesh").Mesh


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    write_tiny_models(root)
    return root


def _load(name="hunyuan3d-dit-v2-0"):
    return run_node("H3DLoadShapeModel", model_name=name, dtype="auto", device="cpu")


def _object_image(batch=1, size=64) -> torch.Tensor:
    image = torch.ones(batch, size, size, 3)
    image[:, size // 4:size * 3 // 4, size // 3:size * 2 // 3] = torch.tensor([0.8, 0.3, 0.1])
    return image


def _condition(model):
    return run_node("H3DEncodeImage", model=model, image=_object_image())[0]


def _sample(model, steps=3, seed=5):
    return run_node("H3DSampleShape", model=model, condition=_condition(model), seed=seed, steps=steps,
                     guidance=5.0, skip_last_call=True)[0]


class _RecordedDecode:
    """Wraps ``vae.decode`` to keep the latents it is fed (what post_kl sees)."""

    def __init__(self, vae):
        self.inner, self.seen = vae.decode, []

    def __call__(self, latents):
        self.seen.append(latents.detach().clone())
        return self.inner(latents)


def _decode(vae, latent, resolution=16, decoder="dense"):
    return run_node("H3DDecodeShapeVolume", vae=vae, latent=latent, decoder=decoder,
                     octree_resolution=resolution, num_chunks=8000, mc_level=0.0)[0]


# ---------------------------------------------------------------------------------------
# Latents shared with ComfyUI's Hunyuan3D nodes


def test_sampled_latents_are_in_comfys_decoder_layout(folders, monkeypatch):
    model, vae = _load()
    condition = _condition(model)
    latent = run_node("H3DSampleShape", model=model, condition=condition, seed=5, steps=3, guidance=5.0,
                       skip_last_call=True)[0]
    expected = pipelines.sample_latents(model.dit, condition.context, model.configs.num_latents,
                                        pipelines.SamplingSettings(steps=3, seed=5))
    assert latent["type"] == "hunyuan3dv2" and latent["samples"].shape == (1, 8, 32)
    # ComfyUI's VAEDecodeHunyuan3D feeds post_kl samples.movedim(-2, -1), unscaled; the
    # release feeds it latents / scale_factor.
    feeds_post_kl = latent["samples"].movedim(-2, -1)
    torch.testing.assert_close(feeds_post_kl, expected / vae.scale_factor)

    recorder = _RecordedDecode(vae.vae)
    monkeypatch.setattr(vae.vae, "decode", recorder)
    voxel = _decode(vae, latent)
    torch.testing.assert_close(recorder.seen[0], feeds_post_kl)
    monkeypatch.undo()
    grid = pipelines.decode_volume(vae.vae, expected, pipelines.VolumeSettings(octree_resolution=16))
    torch.testing.assert_close(voxel.logits, grid)


def test_comfys_sampler_output_decodes_as_comfy_would(folders, monkeypatch):
    """EmptyLatentHunyuan3Dv2 + KSampler give [B, 64, N] in VAE space; decoding must feed
    post_kl exactly what ComfyUI's own decoder would."""
    _, vae = _load()
    samples = torch.randn(2, 8, 32)
    recorder = _RecordedDecode(vae.vae)
    monkeypatch.setattr(vae.vae, "decode", recorder)
    voxel = _decode(vae, {"samples": samples, "type": "hunyuan3dv2", "batch_index": [0, 1]})
    torch.testing.assert_close(recorder.seen[0], samples.movedim(-2, -1))
    assert voxel.logits.shape == (2, 17, 17, 17)


def test_foreign_latents_are_refused(folders):
    _, vae = _load()
    with pytest.raises(ValueError, match="not a Hunyuan3D shape latent"):
        _decode(vae, {"samples": torch.zeros(1, 8, 32), "type": "flux"})
    with pytest.raises(ValueError, match="not an image latent"):
        _decode(vae, {"samples": torch.zeros(1, 4, 64, 64)})


# ---------------------------------------------------------------------------------------
# Voxels and meshes shared with ComfyUI's nodes


def _ball_voxel(radius=0.6, resolution=24, batch=1) -> "node_types.H3DVoxel":
    axis = torch.linspace(-1.01, 1.01, resolution + 1)
    x, y, z = torch.meshgrid(axis, axis, axis, indexing="ij")
    fields = [(radius * (1 - 0.3 * item) - (x**2 + y**2 + z**2).sqrt()).clamp(-0.9, 0.9)
              for item in range(batch)]
    return node_types.H3DVoxel(logits=torch.stack(fields))


def test_extract_surface_reads_comfys_voxels_like_ours():
    voxel = _ball_voxel()
    ours = run_node("H3DExtractSurface", voxel=voxel, level=0.0, release_mapping=True,
                     close_at_bounds=True)[0]
    comfy_voxel = SimpleNamespace(data=voxel.data)  # what VAEDecodeHunyuan3D hands out
    theirs = run_node("H3DExtractSurface", voxel=comfy_voxel, level=0.0, release_mapping=True,
                       close_at_bounds=True)[0]
    np.testing.assert_allclose(theirs.meshes[0].vertices, ours.meshes[0].vertices, atol=1e-5)
    np.testing.assert_array_equal(theirs.meshes[0].faces, ours.meshes[0].faces)


def test_extract_surface_caps_a_shape_the_grid_cuts_unless_asked_not_to():
    voxel = _ball_voxel(radius=1.3)  # wider than the grid's half-size 1.01
    closed = run_node("H3DExtractSurface", voxel=voxel, level=0.0, release_mapping=True,
                       close_at_bounds=True)[0].meshes[0]
    opened = run_node("H3DExtractSurface", voxel=voxel, level=0.0, release_mapping=True,
                       close_at_bounds=False)[0].meshes[0]
    assert closed.to_trimesh().is_watertight and not opened.to_trimesh().is_watertight


def test_a_batch_of_meshes_is_a_comfy_mesh_and_keeps_each_mesh():
    mesh = run_node("H3DExtractSurface", voxel=_ball_voxel(batch=2), level=0.0, release_mapping=True,
                     close_at_bounds=True)[0]
    first, second = mesh.meshes
    assert len(first.faces) != len(second.faces)
    assert mesh.vertices.shape == (2, max(len(first.vertices), len(second.vertices)), 3)
    assert mesh.faces.shape == (2, max(len(first.faces), len(second.faces)), 3)
    # ComfyUI's SaveGLB writes item i from .vertices[i] / .faces[i]: the padding adds nothing visible
    small = 0 if len(first.faces) < len(second.faces) else 1
    padded = trimesh.Trimesh(mesh.vertices[small].numpy(), mesh.faces[small].numpy(), process=False)
    assert padded.area == pytest.approx(mesh.meshes[small].to_trimesh().area, rel=1e-6)


def _comfy_box_mesh():
    box = trimesh.creation.box(extents=(1.0, 0.5, 0.8))
    return SimpleNamespace(vertices=torch.tensor(box.vertices, dtype=torch.float32)[None],
                           faces=torch.tensor(box.faces, dtype=torch.float32)[None])


def test_mesh_inputs_take_comfys_mesh(folders):
    comfy_mesh = _comfy_box_mesh()
    cleaned = run_node("H3DPostprocessMesh", mesh=comfy_mesh, remove_floaters=True, remove_degenerate=True,
                        max_faces=0)[0]
    assert len(cleaned.meshes[0].faces) == 12
    saved = run_node("H3DSaveMesh", mesh=comfy_mesh, filename_prefix="box", file_format="ply")
    assert (folders / "output" / saved["result"][0]).is_file()
    vae = run_node("H3DLoadShapeVAE", vae_name="hunyuan3d-vae-v2-0-withencoder", dtype="auto", device="cpu")[0]
    latent = run_node("H3DEncodeMesh", vae=vae, mesh=comfy_mesh, seed=1, sample_posterior=False)[0]
    assert latent["samples"].shape == (1, 8, 32) and latent["type"] == "hunyuan3dv2"


def test_encode_mesh_needs_an_encoder(folders):
    _, decoder_only = _load()
    with pytest.raises(ValueError, match="withencoder"):
        run_node("H3DEncodeMesh", vae=decoder_only, mesh=_comfy_box_mesh(), seed=0, sample_posterior=False)


# ---------------------------------------------------------------------------------------
# Files


def test_save_mesh_never_overwrites(folders):
    mesh = node_types.H3DMesh.of([Mesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0]], faces=[[0, 1, 2]])])
    taken = folders / "output" / "mesh" / "part_00001.glb"
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"an earlier result")
    first = run_node("H3DSaveMesh", mesh=mesh, filename_prefix="mesh/part", file_format="glb")
    second = run_node("H3DSaveMesh", mesh=mesh, filename_prefix="mesh/part", file_format="glb")
    assert first["result"] == ("mesh/part_00002.glb",) and second["result"] == ("mesh/part_00003.glb",)
    assert first["ui"]["3d"] == [{"filename": "part_00002.glb", "subfolder": "mesh", "type": "output"}]
    assert taken.read_bytes() == b"an earlier result"


def test_save_mesh_uses_comfys_numbering_and_skips_a_taken_name(folders, monkeypatch):
    output = folders / "output"
    (output / "mesh").mkdir(parents=True)
    (output / "mesh" / "x_00007_.glb").write_bytes(b"written by someone else meanwhile")
    counters = iter([7, 8])

    def get_save_image_path(prefix, output_dir):
        subfolder, name = prefix.rsplit("/", 1)
        return str(output / subfolder), name, next(counters), subfolder, prefix

    fake = types.ModuleType("folder_paths")
    fake.get_save_image_path = get_save_image_path
    fake.get_output_directory = lambda: str(output)
    monkeypatch.setitem(sys.modules, "folder_paths", fake)
    mesh = node_types.H3DMesh.of([Mesh(vertices=[[0, 0, 0], [1, 0, 0], [0, 1, 0]], faces=[[0, 1, 2]])])
    saved = run_node("H3DSaveMesh", mesh=mesh, filename_prefix="mesh/x", file_format="glb")
    assert saved["result"] == ("mesh/x_00008_.glb",)
    assert (output / "mesh" / "x_00007_.glb").read_bytes() == b"written by someone else meanwhile"


def test_load_mesh_from_the_list_or_a_path(folders):
    box = trimesh.creation.box()
    box.export(folders / "input" / "box.obj")
    assert "box.obj" in NODES["H3DLoadMesh"].INPUT_TYPES()["required"]["mesh_file"][0]
    listed = run_node("H3DLoadMesh", mesh_file="box.obj", path="")[0]
    typed = run_node("H3DLoadMesh", mesh_file="box.obj", path=str(folders / "input" / "box.obj"))[0]
    assert len(listed.meshes[0].faces) == len(typed.meshes[0].faces) == 12
    with pytest.raises(FileNotFoundError, match="No mesh file at"):
        run_node("H3DLoadMesh", mesh_file="box.obj", path="missing.glb")


# ---------------------------------------------------------------------------------------
# Progress and cancellation through ComfyUI's services


class _Interrupted(Exception):
    pass


def _fake_comfy(monkeypatch, interrupt_after: int | None):
    checks, updates = [], []

    class ProgressBar:
        def __init__(self, total):
            self.total = total

        def update_absolute(self, value, total=None):
            updates.append((value, total))

    def processing_interrupted():
        checks.append(1)
        return interrupt_after is not None and len(checks) > interrupt_after

    def throw_exception_if_processing_interrupted():
        if processing_interrupted():
            raise _Interrupted()

    management = types.ModuleType("comfy.model_management")
    management.processing_interrupted = processing_interrupted
    management.throw_exception_if_processing_interrupted = throw_exception_if_processing_interrupted
    management.InterruptProcessingException = _Interrupted
    management.get_torch_device = lambda: torch.device("cpu")
    management.soft_empty_cache = lambda: None
    utils = types.ModuleType("comfy.utils")
    utils.ProgressBar = ProgressBar
    package = types.ModuleType("comfy")
    package.model_management, package.utils = management, utils
    for name, module in (("comfy", package), ("comfy.model_management", management), ("comfy.utils", utils)):
        monkeypatch.setitem(sys.modules, name, module)
    return updates


def test_sampling_reports_progress_to_comfy(folders, monkeypatch):
    model, _ = _load()
    updates = _fake_comfy(monkeypatch, interrupt_after=None)
    _sample(model, steps=4)
    assert updates == [(1, 3), (2, 3), (3, 3)]  # skip_last_call: 3 model calls


def test_the_interrupt_button_stops_sampling(folders, monkeypatch):
    model, _ = _load()
    condition = _condition(model)
    updates = _fake_comfy(monkeypatch, interrupt_after=3)
    with pytest.raises(_Interrupted):
        run_node("H3DSampleShape", model=model, condition=condition, seed=0, steps=50, guidance=5.0,
                  skip_last_call=False)
    assert 0 < len(updates) < 5


def _comfy_that_offloads(monkeypatch):
    """A stand-in ComfyUI whose GPU is "cuda" and whose offload device is the CPU; returns
    the list its memory calls (and ``_record_moves``) append to."""
    events = []
    management = types.ModuleType("comfy.model_management")
    management.get_torch_device = lambda: torch.device("cuda")
    management.unet_offload_device = lambda: torch.device("cpu")
    management.free_memory = lambda num_bytes, device: events.append(("free_memory", device.type))
    management.soft_empty_cache = lambda: events.append(("soft_empty_cache",))
    management.processing_interrupted = lambda: False
    management.throw_exception_if_processing_interrupted = lambda: None
    package = types.ModuleType("comfy")
    package.model_management = management
    monkeypatch.setitem(sys.modules, "comfy", package)
    monkeypatch.setitem(sys.modules, "comfy.model_management", management)
    # What a test parks on the stand-in GPU is forgotten after it (the models are cached).
    monkeypatch.setattr(comfy_runtime, "_run_devices", weakref.WeakKeyDictionary())
    return events


def _record_moves(monkeypatch, events):
    """Module.to only records the move: this machine has no GPU, and the weights stay usable."""
    def record_move(module, *args, **kwargs):
        device = args[0] if args else kwargs.get("device")
        events.append(("to", type(module).__name__, torch.device(device).type))
        return module

    monkeypatch.setattr(torch.nn.Module, "to", record_move)


def test_a_parked_network_runs_on_its_device_and_waits_on_comfys_offload_device(monkeypatch):
    events = _comfy_that_offloads(monkeypatch)
    _record_moves(monkeypatch, events)
    network = torch.nn.Linear(2, 2)
    cuda = torch.device("cuda")
    assert comfy_runtime.offload_device(cuda) == torch.device("cpu")
    assert comfy_runtime.offload_device(torch.device("cpu")) == torch.device("cpu")
    comfy_runtime.park(cuda, network, None)
    with pytest.raises(RuntimeError, match="inside"):
        with comfy_runtime.in_use(network):
            events.append("block")
            raise RuntimeError("inside")
    assert events == [("free_memory", "cuda"), ("to", "Linear", "cuda"), "block",
                      ("to", "Linear", "cpu"), ("soft_empty_cache",)]
    events.clear()
    with comfy_runtime.in_use(torch.nn.Linear(2, 2)):  # never parked: left where it is
        pass
    already_there = torch.nn.Linear(2, 2)
    comfy_runtime.park(torch.device("cpu", 0), already_there)  # "cpu:0" is where it is
    with comfy_runtime.in_use(already_there):
        pass
    assert events == []


def test_without_comfy_networks_wait_where_they_run(monkeypatch):
    monkeypatch.setitem(sys.modules, "comfy.model_management", None)  # import fails
    assert comfy_runtime.offload_device(torch.device("cuda")) == torch.device("cuda")


def test_with_comfy_a_gpu_model_loads_onto_the_offload_device_and_runs_on_the_gpu(folders, monkeypatch):
    events = _comfy_that_offloads(monkeypatch)
    model, vae = run_node("H3DLoadShapeModel", model_name="hunyuan3d-dit-v2-0", dtype="float32", device="auto")
    assert next(model.dit.parameters()).device.type == "cpu"  # loaded where it waits
    assert vae.vae is model.vae
    events.clear()
    _record_moves(monkeypatch, events)
    run_node("H3DEncodeImage", model=model, image=_object_image())
    assert [event for event in events if event[0] == "to"] == [
        ("to", type(model.conditioner).__name__, "cuda"), ("to", type(model.conditioner).__name__, "cpu")]


@pytest.mark.parametrize("node_id, network", [("H3DEncodeImage", "conditioner"),
                                              ("H3DSampleShape", "dit"),
                                              ("H3DDecodeShapeVolume", "vae")])
def test_shape_nodes_bring_their_network_to_the_gpu_and_park_it_after(folders, monkeypatch, node_id,
                                                                     network):
    model, vae = _load()
    condition = _condition(model)
    latent = run_node("H3DSampleShape", model=model, condition=condition, seed=0, steps=2, guidance=5.0,
                       skip_last_call=True)[0]
    events = _comfy_that_offloads(monkeypatch)
    _record_moves(monkeypatch, events)
    used = getattr(model, network)
    comfy_runtime.park(torch.device("cuda"), used)
    inputs = {
        "H3DEncodeImage": dict(model=model, image=_object_image()),
        "H3DSampleShape": dict(model=model, condition=condition, seed=0, steps=2, guidance=5.0,
                               skip_last_call=True),
        "H3DDecodeShapeVolume": dict(vae=vae, latent=latent, decoder="dense", octree_resolution=16,
                                     num_chunks=4096, mc_level=0.0),
    }[node_id]
    run_node(node_id, **inputs)
    moves = [event for event in events if event[0] == "to" and event[1] == type(used).__name__]
    assert moves[0][2] == "cuda" and moves[-1][2] == "cpu"
    assert ("free_memory", "cuda") in events and events[-1] == ("soft_empty_cache",)


# ---------------------------------------------------------------------------------------
# Models: discovery, caching, conditions


def test_loaded_models_are_cached_and_share_their_vae(folders):
    model, vae = _load()
    again, _ = _load()
    assert again is model
    standalone = run_node("H3DLoadShapeVAE", vae_name="hunyuan3d-dit-v2-0", dtype="auto", device="cpu")[0]
    assert standalone.vae is vae.vae


def test_a_replaced_file_is_loaded_again(folders, models_dir):
    model, _ = _load()
    weights = models_dir / "hunyuan3d" / "hunyuan3d-dit-v2-0" / "model.fp16.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert _load()[0] is not model


def test_discovery_lists_release_folders_and_hunyuan3d_single_files(tmp_path, monkeypatch):
    monkeypatch.setenv("HY3D_MODELS_DIR", str(tmp_path))
    for folder in ("hunyuan3d/hunyuan3d-dit-v2-0", "hunyuan3d/Hunyuan3D-2/hunyuan3d-dit-v2-0-turbo",
                   "hunyuan3d/hunyuan3d-vae-v2-0-turbo"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "config.yaml").write_text("{}")
        (tmp_path / folder / "model.fp16.safetensors").write_bytes(b"")
    paint = tmp_path / "hunyuan3d/Hunyuan3D-2/hunyuan3d-paint-v2-0"  # a diffusers folder: not ours
    (paint / "unet").mkdir(parents=True)
    (paint / "model_index.json").write_text("{}")
    (paint / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"")
    (tmp_path / "checkpoints").mkdir()
    for name in ("hunyuan3d-dit-v2-mv_fp16.safetensors", "sd_xl_base_1.0.safetensors"):
        (tmp_path / "checkpoints" / name).write_bytes(b"")
    assert model_files.shape_model_choices() == [
        "hunyuan3d-dit-v2-0", "Hunyuan3D-2/hunyuan3d-dit-v2-0-turbo",
        "checkpoints/hunyuan3d-dit-v2-mv_fp16.safetensors", model_files.DEMO_CHOICE,
    ]
    assert model_files.shape_vae_choices()[0] == "hunyuan3d-vae-v2-0-turbo"


def test_without_downloads_the_loader_offers_the_shipped_demo_model(tmp_path, monkeypatch):
    monkeypatch.setenv("HY3D_MODELS_DIR", str(tmp_path))
    choices = NODES["H3DLoadShapeModel"].INPUT_TYPES()["required"]["model_name"][0]
    assert choices == [model_files.DEMO_CHOICE]
    model = _load(model_files.DEMO_CHOICE)[0]
    assert model.configs.conditioner is not None


def test_missing_models_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HY3D_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(model_files, "DEMO_MODEL_DIR", tmp_path / "no_demo_model")
    choices = NODES["H3DLoadShapeModel"].INPUT_TYPES()["required"]["model_name"][0]
    assert choices == [model_files.NO_MODEL_FOUND]
    with pytest.raises(FileNotFoundError, match="models/hunyuan3d/"):
        _load(model_files.NO_MODEL_FOUND)
    with pytest.raises(FileNotFoundError, match="huggingface.co/tencent/Hunyuan3D-2"):
        _load("hunyuan3d-dit-v2-0")


def test_multi_view_conditions(folders):
    single, _ = _load()
    multi, _ = _load("hunyuan3d-dit-v2-mv")
    with pytest.raises(ValueError, match="Hunyuan3D-2mv"):
        run_node("H3DEncodeMultiView", model=single, front=_object_image())
    with pytest.raises(ValueError, match="at least one"):
        run_node("H3DEncodeMultiView", model=multi)
    with pytest.raises(ValueError, match="differ"):
        run_node("H3DEncodeMultiView", model=multi, front=_object_image(), back=_object_image(2))
    condition = run_node("H3DEncodeMultiView", model=multi, back=_object_image(), front=_object_image())[0]
    assert condition.views == ("front", "back") and condition.context.shape == (1, 10, 32)
    assert run_node("H3DEncodeImage", model=multi, image=_object_image())[0].context.shape == (1, 5, 32)
    latent = run_node("H3DSampleShape", model=multi, condition=condition, seed=0, steps=2, guidance=5.0,
                       skip_last_call=True)[0]
    assert latent["samples"].shape == (1, 8, 32)


def test_auto_device_and_dtype():
    assert comfy_runtime.torch_dtype("auto", torch.device("cpu")) == torch.float32
    assert comfy_runtime.torch_dtype("auto", torch.device("cuda")) == torch.float16
    assert comfy_runtime.torch_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            comfy_runtime.torch_device("cuda")


# ---------------------------------------------------------------------------------------
# Images


def test_remove_background_reads_either_mask_convention():
    image = _object_image(2)
    alpha = torch.zeros(2, 64, 64)
    alpha[:, 16:48, 20:44] = 1.0
    _, from_load_image = run_node("H3DRemoveBackground", image=image, method="alpha",
                                   mask_convention="background is 1 (LoadImage)", mask=1.0 - alpha)
    _, from_segmentation = run_node("H3DRemoveBackground", image=image, method="alpha",
                                     mask_convention="object is 1", mask=alpha[:1])
    torch.testing.assert_close(from_load_image, alpha)
    torch.testing.assert_close(from_segmentation, alpha)


def test_remove_background_mattes_when_loadimage_found_no_alpha(monkeypatch, tmp_path):
    """LoadImage gives a 64x64 zero mask for a file without alpha: no cut-out, so auto
    computes a matte, and alpha says what is missing."""
    monkeypatch.setenv("HY3D_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    placeholder = torch.zeros(1, 64, 64)
    image, mask = run_node("H3DRemoveBackground", image=_object_image(size=80), method="auto",
                            mask_convention="background is 1 (LoadImage)", mask=placeholder)
    assert image.shape == (1, 80, 80, 3)
    assert mask[0, 40, 40] > 0.5 and mask[0, 2, 2] < 0.5
    with pytest.raises(ValueError, match="Image 0 of the batch: method 'alpha' needs"):
        run_node("H3DRemoveBackground", image=_object_image(size=80), method="alpha",
                  mask_convention="background is 1 (LoadImage)", mask=placeholder)


def test_prepare_image_centres_each_image_of_the_batch():
    image = _object_image(2)
    alpha = torch.zeros(64, 64)
    alpha[16:48, 20:44] = 1.0
    prepared, mask = run_node("H3DPrepareImage", image=image, size=128, border_ratio=0.15,
                               mask_convention="object is 1", mask=alpha)
    assert prepared.shape == (2, 128, 128, 3) and mask.shape == (2, 128, 128)
    assert prepared[0, 0, 0].tolist() == [1.0, 1.0, 1.0]  # white around the object
    rows = mask[0].amax(dim=1).nonzero()
    assert rows.min() > 5 and rows.max() < 122  # the border is kept
