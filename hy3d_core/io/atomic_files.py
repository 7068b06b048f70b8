"""Write results so that a crash never leaves a half file and nothing is overwritten
unless the caller asks.

Every file of one result is written under a temporary name in its destination folder
and renamed into place only when all of them are complete, so a crash or a full disk
never leaves a truncated file that a viewer (or the next run) would trust.
"""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path

import torch


def write_files_atomically(files: dict[Path, bytes], *, overwrite: bool = False) -> None:
    """Write each file to a temporary sibling, then rename them all, in the given order.

    Without ``overwrite``, refuses (FileExistsError) before writing anything if any
    target exists.
    """
    if not overwrite:
        existing = [name for name in files if name.exists()]
        if existing:
            raise FileExistsError(
                f"Not overwriting existing {', '.join(str(name) for name in existing)}; "
                "choose another name, or ask to overwrite."
            )
    temporaries: list[Path] = []
    try:
        staged = []
        for target, data in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
            temporaries.append(temporary)
            with open(temporary, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            staged.append((temporary, target))
        for temporary, target in staged:
            os.replace(temporary, target)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)


def save_tensor(tensor: torch.Tensor, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """``torch.save`` of one CPU tensor, written atomically and never overwriting."""
    buffer = io.BytesIO()
    torch.save(tensor.detach().cpu(), buffer)
    path = Path(path)
    write_files_atomically({path: buffer.getvalue()}, overwrite=overwrite)
    return path
