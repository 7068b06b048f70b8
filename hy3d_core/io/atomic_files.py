"""Write results so that a crash never leaves a half file and nothing is overwritten
unless the caller asks.

Every file of one result is written under a temporary name in its destination folder
and moved into place only when all of them are complete, so a crash or a full disk
never leaves a truncated file that a viewer (or the next run) would trust. Without
``overwrite`` the move itself refuses an existing target (a hard link fails when the
name is taken), so a file that appears between the check and the move is never
replaced. A write that fails (read-only folder, full disk, a folder in the way) raises
:class:`OutputWriteError` with one line naming the file, the cause and what to do.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch


class OutputWriteError(OSError, ValueError):
    """An output file could not be written; the message says which, why and what to do.

    An ``OSError`` (callers that catch write failures keep working) and a ``ValueError``
    (the command line and the nodes report it as one line, as any other bad input).
    """


_ADVICE = {
    errno.EACCES: "choose a folder you can write to",
    errno.EPERM: "choose a folder you can write to",
    errno.EROFS: "the disk is read-only; choose another folder",
    errno.ENOSPC: "the disk is full; free some space or choose another folder",
    errno.EDQUOT: "the disk quota is used up; free some space or choose another folder",
    errno.EISDIR: "a folder has that name; choose a file name",
    errno.ENOTDIR: "a file is in the way of the folder; choose another folder",
    errno.ENAMETOOLONG: "choose a shorter name",
}


def write_failure(target: Path, error: OSError) -> OutputWriteError:
    """One line for a failed write of ``target``: the file, the system's reason, advice."""
    reason = error.strerror or str(error) or type(error).__name__
    advice = _ADVICE.get(error.errno, "check the folder and the disk, then try again")
    failure = OutputWriteError(f"cannot write {target}: {reason}; {advice}")
    failure.errno = error.errno
    return failure


def _refuse_existing(names: list[Path]) -> FileExistsError:
    return FileExistsError(
        f"Not overwriting existing {', '.join(str(name) for name in names)}; "
        "choose another name, or ask to overwrite."
    )


def _check_targets(files: dict[Path, bytes], overwrite: bool) -> None:
    for target in files:
        if target.is_dir():
            raise OutputWriteError(f"cannot write {target}: it is a folder; choose a file name")
        for parent in target.parents:
            if parent.exists() and not parent.is_dir():
                raise OutputWriteError(f"cannot write {target}: {parent} is a file, not a "
                                       "folder; choose another folder")
    if not overwrite:
        existing = [name for name in files if name.exists()]
        if existing:
            raise _refuse_existing(existing)


def _stage(target: Path, data: bytes) -> Path:
    """``data`` complete and flushed to disk under a temporary sibling of ``target``."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def _place_without_replacing(temporary: Path, target: Path) -> None:
    """Move ``temporary`` to ``target`` only if ``target`` does not exist, atomically.

    A hard link fails with FileExistsError when the name is taken. Where hard links are
    not supported (some network and FAT file systems) the name is reserved with an
    exclusive create and the finished file renamed over that reservation.
    """
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        try:
            os.replace(temporary, target)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
    else:
        temporary.unlink()


_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV,
                            errno.EMLINK, errno.ENOSYS})


@contextmanager
def _reported(target: Path) -> Iterator[None]:
    """Turn an OS error while writing ``target`` into one :class:`OutputWriteError` line."""
    try:
        yield
    except OSError as error:
        raise write_failure(target, error) from error


def write_files_atomically(files: dict[Path, bytes], *, overwrite: bool = False) -> None:
    """Write each file to a temporary sibling, then move them all into place in order.

    Without ``overwrite``, refuses (FileExistsError) before writing anything if any
    target exists, and again, atomically, if one appears while writing; the files this
    call already placed are then removed. Other failures raise :class:`OutputWriteError`.
    """
    _check_targets(files, overwrite)
    staged: list[tuple[Path, Path]] = []
    placed: list[Path] = []
    try:
        for target, data in files.items():
            with _reported(target):
                target.parent.mkdir(parents=True, exist_ok=True)
                staged.append((_stage(target, data), target))
        for temporary, target in staged:
            if overwrite:
                with _reported(target):
                    os.replace(temporary, target)
            else:
                try:
                    _place_without_replacing(temporary, target)
                except FileExistsError:
                    raise _refuse_existing([target]) from None
                except OSError as error:
                    raise write_failure(target, error) from error
            placed.append(target)
    except BaseException:
        if not overwrite:
            for name in placed:
                name.unlink(missing_ok=True)
        raise
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def save_tensor(tensor: torch.Tensor, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """``torch.save`` of one CPU tensor, written atomically and never overwriting."""
    buffer = io.BytesIO()
    torch.save(tensor.detach().cpu(), buffer)
    path = Path(path)
    write_files_atomically({path: buffer.getvalue()}, overwrite=overwrite)
    return path
