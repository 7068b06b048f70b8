"""docs/bad_inputs.md stays true: every row's case is run here, and its answer and
message must be what the table says (``<...>`` in a message stands for any text).

A case reproduces the input or fault and returns ``(answer, message)`` as the pack gave
them: for an error its type (plus what else must hold) and its message, for an input that
is now read correctly what came out, checked against the table like any other answer.
"""

import contextlib
import errno
import io
import pathlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from hy3d_core.cli import build_parser
from hy3d_core.demo import DEMO_MODEL_DIR
from hy3d_core.geometry.mesh import Mesh
from hy3d_core.geometry.surface import extract_surface
from hy3d_core.image.files import read_image_rgba
from hy3d_core.image.prepare import prepare_image
from hy3d_core.io import atomic_files
from hy3d_core.io.atomic_files import save_tensor, write_files_atomically
from hy3d_core.io.mesh_files import load_mesh, save_mesh
from hy3d_core.io.shape_checkpoints import describe_checkpoint, load_shape_model
from hy3d_core.models.conditioner import ImageConditioner
from hy3d_core.models.conditioner_config import ConditionerConfig
from hy3d_core.pipelines import SamplingSettings, generate_shape
from hy3d_core.training.trainer import TrainingSettings, run_training
from tiny_checkpoints import demo_model_copy, tiny_yaml
from toy_training import LinearDataset, LinearObjective

TABLE = Path(__file__).resolve().parents[1] / "docs" / "bad_inputs.md"
NO_MESSAGE = "—"
TRIANGLE = Mesh(vertices=np.eye(3), faces=np.array([[0, 1, 2]]))
RESUME_SETTINGS = TrainingSettings(steps=2, batch_size=2, lr=0.05, seed=1)


def _raised(action) -> tuple[str, str]:
    try:
        action()
    except Exception as error:  # the table's answer is the type the pack raised
        return type(error).__name__, str(error)
    return "no error", NO_MESSAGE


class _WritesMarker:
    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.write_text, (self.marker, "code ran")


def _resume(run_dir: Path):
    return lambda: run_training(LinearObjective(), LinearDataset(), run_dir, RESUME_SETTINGS,
                                arguments={}, resume=True)


def resume_planted_pickle(tmp_path):
    marker = tmp_path / "marker.txt"
    (tmp_path / "run").mkdir()
    torch.save({"version": 1, "payload": _WritesMarker(marker)}, tmp_path / "run" / "checkpoint.pt")
    kind, message = _raised(_resume(tmp_path / "run"))
    ran = "the object's code ran" if marker.exists() else "the object's code never runs"
    return f"{kind}; {ran}", message


def resume_damaged_checkpoint(tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04 cut short")
    return _raised(_resume(tmp_path))


def train_checkpoint_disk_full(tmp_path, monkeypatch):
    from hy3d_core.training import trainer

    run_training(LinearObjective(), LinearDataset(), tmp_path, RESUME_SETTINGS, arguments={})
    saved = (tmp_path / "checkpoint.pt").read_bytes()

    def disk_full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(trainer.os, "fsync", disk_full)
    longer = TrainingSettings(**{**RESUME_SETTINGS.__dict__, "steps": 4})
    kind, message = _raised(lambda: run_training(LinearObjective(), LinearDataset(), tmp_path,
                                                 longer, arguments={}, resume=True))
    kept = (tmp_path / "checkpoint.pt").read_bytes() == saved
    return f"{kind}; the last checkpoint is {'kept' if kept else 'damaged'}", message


def write_name_taken_while_writing(tmp_path, monkeypatch):
    target = tmp_path / "mesh.glb"
    stage = atomic_files._stage

    def stage_then_intrude(name, data):
        staged = stage(name, data)
        target.write_bytes(b"another program's file")
        return staged

    monkeypatch.setattr(atomic_files, "_stage", stage_then_intrude)
    kind, message = _raised(lambda: write_files_atomically({target: b"mesh"}))
    kept = target.read_bytes() == b"another program's file"
    return f"{kind}; the other file is {'kept' if kept else 'replaced'}", message


def write_read_only_folder(tmp_path, monkeypatch):
    # Tests run as root, where chmod does not stop a write: refuse it the way the kernel does.
    def refuse(*_args):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic_files.os, "link", refuse)
    return _raised(lambda: save_mesh(TRIANGLE, tmp_path / "mesh.glb"))


def _command(arguments: list[str]):
    return lambda: (lambda args: args.run(args))(build_parser().parse_args(arguments))


def _cut_out_image(tmp_path) -> Path:
    image = tmp_path / "box.png"
    Image.fromarray(np.full((16, 16, 4), 255, np.uint8), "RGBA").save(image)
    return image


def obj_texture_is_the_input_image(tmp_path):
    image = _cut_out_image(tmp_path)
    kept = image.read_bytes()
    kind, message = _raised(_command(["generate", "--image", str(image), "--out", str(tmp_path / "box.obj"),
                                      "--overwrite"]))
    return f"{kind}; the image is {'kept' if image.read_bytes() == kept else 'replaced'}", message


def latents_named_like_the_mesh(tmp_path):
    out = str(tmp_path / "box.glb")
    return _raised(_command(["shape", "--image", str(_cut_out_image(tmp_path)), "--out", out,
                             "--save-latents", out]))


def numeric_flag_out_of_range(tmp_path):
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["generate", "--image", "a.png", "--out", "a.glb", "--view-size", "12"])
    return f"exit status {exit_info.value.code}", errors.getvalue().strip().splitlines()[-1]


def write_disk_full(tmp_path, monkeypatch):
    def disk_full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_files.os, "fsync", disk_full)
    kind, message = _raised(lambda: save_tensor(torch.zeros(3), tmp_path / "latents.pt"))
    partial = any(tmp_path.iterdir())
    return f"{kind}; {'a partial file is left' if partial else 'no partial file is left'}", message


def write_target_is_a_folder(tmp_path):
    (tmp_path / "mesh.glb").mkdir()
    plain = _raised(lambda: save_mesh(TRIANGLE, tmp_path / "mesh.glb"))
    forced = _raised(lambda: save_mesh(TRIANGLE, tmp_path / "mesh.glb", overwrite=True))
    assert plain == forced
    return plain


def write_folder_is_a_file(tmp_path):
    (tmp_path / "out").write_text("a file")
    return _raised(lambda: save_mesh(TRIANGLE, tmp_path / "out" / "mesh.glb"))


def obj_face_index_out_of_range(tmp_path):
    path = tmp_path / "mesh.obj"
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n")
    return _raised(lambda: load_mesh(path))


def config_section_not_a_mapping(tmp_path):
    config = yaml.safe_load((DEMO_MODEL_DIR / "config.yaml").read_text())
    config["model"] = 12
    return _raised(lambda: describe_checkpoint(demo_model_copy(tmp_path / "model", config)))


def config_less_custom_model(tmp_path):
    model = load_shape_model(demo_model_copy(tmp_path / "model", None))
    image = torch.ones(1, 3, 84, 84)
    return _raised(lambda: generate_shape(model, image, sampling=SamplingSettings(steps=1)))


def nan_pixels_encode_image(tmp_path):
    conditioner = ImageConditioner(ConditionerConfig.from_yaml_section(tiny_yaml()["conditioner"]))
    images = torch.zeros(1, 3, 28, 28)
    images[0, :, 3, 4] = float("nan")
    return _raised(lambda: conditioner(images))


def nan_pixels_prepare_image(tmp_path):
    image = np.full((16, 16, 4), 0.5, np.float32)
    image[2, 3, 0] = np.nan
    return _raised(lambda: prepare_image(image))


def jpeg_exif_orientation(tmp_path):
    upright = np.zeros((30, 20, 3), np.uint8)
    upright[:15] = (255, 0, 0)
    stored = Image.fromarray(np.rot90(upright, k=1).copy())
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / "phone.jpg", quality=100, subsampling=0, exif=exif)
    rgba = read_image_rgba(tmp_path / "phone.jpg")
    same = rgba.shape[:2] == upright.shape[:2] and np.abs(rgba[..., :3] - upright.astype(int)).max() < 8
    return ("read upright" if same else "read sideways"), NO_MESSAGE


def png_16_bit_greyscale(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 256).round().astype(np.uint16), (4, 1))
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    grey = read_image_rgba(tmp_path / "ramp.png")[0, :, 0]
    if np.array_equal(grey, np.arange(256)):
        return "read with its grey levels (not clipped to white)", NO_MESSAGE
    return f"read as {np.unique(grey).size} grey levels", NO_MESSAGE


def shape_cut_by_the_grid_undecoded(tmp_path):
    axis = np.linspace(-1.01, 1.01, 49)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    grid = (np.minimum(np.minimum(1.2 - np.abs(x), 0.5 - np.abs(y)), 0.5 - np.abs(z)) * 10)
    grid = grid.astype(np.float32)
    grid[np.abs(grid) > 1.0] = np.nan  # decoded only near the surface
    mesh = extract_surface(grid, close_at_bounds=True)
    edges = np.sort(mesh.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    open_edges = int((np.unique(edges, axis=0, return_counts=True)[1] == 1).sum())
    shape = "a closed mesh" if open_edges == 0 else "an open mesh"
    return f"{shape} ({open_edges} boundary edges)", NO_MESSAGE


CASES = {
    "resume-planted-pickle": resume_planted_pickle,
    "resume-damaged-checkpoint": resume_damaged_checkpoint,
    "train-checkpoint-disk-full": train_checkpoint_disk_full,
    "write-name-taken-while-writing": write_name_taken_while_writing,
    "write-read-only-folder": write_read_only_folder,
    "write-disk-full": write_disk_full,
    "obj-texture-is-the-input-image": obj_texture_is_the_input_image,
    "latents-named-like-the-mesh": latents_named_like_the_mesh,
    "numeric-flag-out-of-range": numeric_flag_out_of_range,
    "write-target-is-a-folder": write_target_is_a_folder,
    "write-folder-is-a-file": write_folder_is_a_file,
    "obj-face-index-out-of-range": obj_face_index_out_of_range,
    "config-section-not-a-mapping": config_section_not_a_mapping,
    "config-less-custom-model": config_less_custom_model,
    "nan-pixels-encode-image": nan_pixels_encode_image,
    "nan-pixels-prepare-image": nan_pixels_prepare_image,
    "jpeg-exif-orientation": jpeg_exif_orientation,
    "png-16-bit-greyscale": png_16_bit_greyscale,
    "shape-cut-by-the-grid-undecoded": shape_cut_by_the_grid_undecoded,
}


def _table_rows() -> dict[str, tuple[str, str]]:
    """Case name -> (answer, message) from the table, code quotes removed."""
    rows = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        assert len(cells) == 4, f"a row needs 4 cells: {line}"
        name, _, answer, message = (cell.replace("`", "") for cell in cells)
        assert name not in rows, f"case {name} is listed twice"
        rows[name] = (answer, message)
    return rows


def _message_pattern(template: str) -> re.Pattern:
    parts = re.split(r"<[^<>]+>", template)
    return re.compile(".+".join(re.escape(part) for part in parts), re.DOTALL)


def test_every_row_has_a_case_and_every_case_a_row():
    assert sorted(_table_rows()) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_row_says_what_the_pack_answers(name, tmp_path, monkeypatch):
    answer, template = _table_rows()[name]
    case = CASES[name]
    takes_monkeypatch = "monkeypatch" in case.__code__.co_varnames[:case.__code__.co_argcount]
    got_answer, got_message = case(tmp_path, monkeypatch) if takes_monkeypatch else case(tmp_path)
    assert got_answer == answer
    assert _message_pattern(template).fullmatch(got_message), (template, got_message)
    assert "\n" not in got_message, "a message is one line"
