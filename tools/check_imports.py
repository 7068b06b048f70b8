"""Import every module of the pack, and every library it imports anywhere, as a user's
ComfyUI would: CI runs this in a fresh virtual environment holding only torch and
``requirements.txt``, so a dependency the code needs but the requirements do not declare
fails there, not in a user's ComfyUI.

    python tools/check_imports.py

The repository folder is imported as a package under a dashed name, as ComfyUI imports
``custom_nodes/<folder>``, and ``hy3d_core`` and ``nodes`` are walked below it. Libraries
imported inside functions (transformers, diffusers, xatlas) are not reached by importing
the modules, so every import statement is also read from the source and each library it
names is imported. Exit status 1 lists what failed.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACK_NAME = "hy3d-import-check"
PACKAGES = ("hy3d_core", "nodes")
# Optional libraries the code looks for and does without (it checks with find_spec first).
OPTIONAL_LIBRARIES = {
    "nvdiffrast": "the CUDA rasterizer; the torch rasterizer is used without it",
    "rembg": "the rembg background matte; the other methods work without it",
}
# Modules that do something when imported, rather than define something.
SKIPPED_MODULES = {
    "hy3d_core.__main__": "runs the command line",
}


def load_pack():
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, REPO / "__init__.py", submodule_search_locations=[str(REPO)]
    )
    pack = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = pack
    spec.loader.exec_module(pack)
    return pack


def pack_modules() -> list[str]:
    """Every module of the packages, as dotted names under the pack."""
    names = []
    for package in PACKAGES:
        module = importlib.import_module(f"{PACK_NAME}.{package}")
        names.append(module.__name__)
        names += [info.name for info in pkgutil.walk_packages(module.__path__, prefix=f"{module.__name__}.")]
    return names


def imported_libraries() -> set[str]:
    """Top-level names of the third-party libraries any import statement of the packages
    names, function bodies included."""
    libraries = set()
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                if isinstance(node, ast.Import):
                    libraries.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    libraries.add(node.module.split(".")[0])
    return {name for name in libraries if name not in sys.stdlib_module_names and name not in PACKAGES}


def main() -> int:
    failures = []
    try:
        load_pack()
        modules = pack_modules()
    except Exception:
        print(f"the pack itself does not import:\n{traceback.format_exc()}", file=sys.stderr)
        return 1
    for name in modules:
        if name.removeprefix(f"{PACK_NAME}.") in SKIPPED_MODULES:
            continue
        try:
            importlib.import_module(name)
        except Exception as error:
            failures.append(f"{name.removeprefix(PACK_NAME + '.')}: {type(error).__name__}: {error}")
    libraries = sorted(imported_libraries() - set(OPTIONAL_LIBRARIES))
    for name in libraries:
        try:
            importlib.import_module(name)
        except Exception as error:
            failures.append(f"library {name}: {type(error).__name__}: {error}")
    if failures:
        print("these do not import (declare the library in requirements.txt and pyproject.toml):",
              file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    print(f"imported {len(modules) - len(SKIPPED_MODULES)} modules and {len(libraries)} libraries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
