"""Atomic writes: no replacing a file that appears between the check and the move, and
one clear error (an OSError and a ValueError) for read-only folders, full disks and
folders in the way."""

import errno
import os

import numpy as np
import pytest
import torch

from hy3d_core.geometry.mesh import Mesh
from hy3d_core.io import atomic_files
from hy3d_core.io.atomic_files import OutputWriteError, save_tensor, write_files_atomically
from hy3d_core.io.mesh_files import save_mesh

TRIANGLE = Mesh(vertices=np.eye(3), faces=np.array([[0, 1, 2]]))


def _racing_stage(monkeypatch, intruder):
    """Create ``intruder`` right after the files are staged, before they are moved."""
    stage = atomic_files._stage

    def stage_then_intrude(target, data):
        temporary = stage(target, data)
        if target == intruder:
            intruder.write_bytes(b"someone else's file")
        return temporary

    monkeypatch.setattr(atomic_files, "_stage", stage_then_intrude)


def _no_hard_links(monkeypatch):
    def link(_source, _target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(atomic_files.os, "link", link)


@pytest.mark.parametrize("hard_links", [True, False], ids=["hard-links", "no-hard-links"])
def test_a_file_created_between_check_and_move_is_not_replaced(tmp_path, monkeypatch, hard_links):
    if not hard_links:
        _no_hard_links(monkeypatch)
    first, second = tmp_path / "mesh.png", tmp_path / "mesh.obj"
    _racing_stage(monkeypatch, second)
    with pytest.raises(FileExistsError, match="Not overwriting existing .*mesh.obj"):
        write_files_atomically({first: b"texture", second: b"mesh"})
    assert second.read_bytes() == b"someone else's file"
    assert sorted(os.listdir(tmp_path)) == ["mesh.obj"], "placed files and temporaries are removed"


@pytest.mark.parametrize("hard_links", [True, False], ids=["hard-links", "no-hard-links"])
def test_new_files_are_placed_whole(tmp_path, monkeypatch, hard_links):
    if not hard_links:
        _no_hard_links(monkeypatch)
    target = tmp_path / "sub" / "a.bin"
    write_files_atomically({target: b"x" * 1000})
    assert target.read_bytes() == b"x" * 1000
    assert os.listdir(target.parent) == ["a.bin"]


def test_overwrite_replaces_a_file_that_appears_while_writing(tmp_path, monkeypatch):
    target = tmp_path / "a.bin"
    _racing_stage(monkeypatch, target)
    write_files_atomically({target: b"mine"}, overwrite=True)
    assert target.read_bytes() == b"mine"


def _assert_one_line(failure, *fragments):
    message = str(failure)
    assert isinstance(failure, ValueError) and isinstance(failure, OSError)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_read_only_folder_is_one_clear_error(tmp_path, monkeypatch):
    def refuse(*_args):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(atomic_files.os, "link", refuse)
    target = tmp_path / "ball.glb"
    with pytest.raises(OutputWriteError) as caught:
        save_mesh(TRIANGLE, target)
    _assert_one_line(caught.value, str(target), "Permission denied", "choose a folder you can write to")
    assert caught.value.errno == errno.EACCES
    assert os.listdir(tmp_path) == []


def test_full_disk_is_one_clear_error(tmp_path, monkeypatch):
    def disk_full(_descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_files.os, "fsync", disk_full)
    target = tmp_path / "latents.pt"
    with pytest.raises(OutputWriteError) as caught:
        save_tensor(torch.zeros(2), target)
    _assert_one_line(caught.value, str(target), "No space left on device", "disk is full")
    assert os.listdir(tmp_path) == []


def test_a_folder_as_target_is_one_clear_error_even_with_overwrite(tmp_path):
    (tmp_path / "ball.glb").mkdir()
    for overwrite in (False, True):
        with pytest.raises(OutputWriteError) as caught:
            save_mesh(TRIANGLE, tmp_path / "ball.glb", overwrite=overwrite)
        _assert_one_line(caught.value, "ball.glb", "it is a folder", "choose a file name")
    assert os.listdir(tmp_path / "ball.glb") == []


def test_a_file_as_the_folder_is_one_clear_error(tmp_path):
    (tmp_path / "out").write_bytes(b"a file, not a folder")
    with pytest.raises(OutputWriteError) as caught:
        save_tensor(torch.zeros(2), tmp_path / "out" / "deeper" / "latents.pt")
    _assert_one_line(caught.value, "latents.pt", f"{tmp_path / 'out'} is a file, not a folder")


def test_a_read_only_mount_is_one_clear_error(tmp_path, monkeypatch):
    def read_only(*_args, **_kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic_files, "_stage", read_only)
    with pytest.raises(OutputWriteError) as caught:
        write_files_atomically({tmp_path / "a.bin": b"x"})
    _assert_one_line(caught.value, "a.bin", "Read-only file system", "choose another folder")
