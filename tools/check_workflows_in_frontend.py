"""Load the shipped workflows in the real ComfyUI frontend and compare the API prompt it
makes with the one our tests make.

ComfyUI's server cannot be installed here, but its frontend can (PyPI
``comfyui-frontend-package``, static files only). This tool serves that frontend from a
small stand-in backend on 127.0.0.1 whose ``/api/object_info`` is built from our real node
classes and the core node declarations the tests use (``tests/nodes/core_nodes.py``),
opens it in headless Chromium, drops each workflow file on the canvas as a user would,
and asks the frontend for the API prompt (``app.graphToPrompt()``). A difference from
``graph_runner.workflow_to_api`` is a defect in the workflow file, in our converter or in
a node declaration; either way a workflow that passes the tests might not load in
ComfyUI, which is what this check is for.

Usage: ``python tools/check_workflows_in_frontend.py [WORKFLOW.json ...]`` (default: all
of ``workflows/``); ``--chromium PATH`` (default: ``chromium`` on PATH); ``--screenshot
DIR``: also save, per workflow, a PNG of the graph as the frontend shows it, fitted to
the view without the frontend's menus (``DIR/<workflow name>.png``; the README's workflow
picture is one). Needs
``comfyui-frontend-package`` and ``playwright`` from PyPI and a Chromium binary (Debian
``chromium``); playwright's own browser download is not used. Prints one line per
workflow, "OK" or its problems, and exits 1 if any workflow has a problem.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qs, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests"), str(REPO_ROOT / "tests" / "nodes")]

from core_nodes import CORE_NODES, FILE_COMBO, FRONTEND_ONLY  # noqa: E402
from graph_runner import (  # noqa: E402
    declaration,
    load_pack,
    pack_module,
    widget_slots,
    workflow_to_api,
    write_paint_pbr_21_models,
    write_tiny_models,
)

PACK_MODULE = "custom_nodes.comfyui-hunyuan3d"
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LOAD_TIMEOUT_S = 60.0
SETTINGS = {
    # Else a first start opens the template browser, which asks for templates/index.json
    # (the separate templates package) and covers the canvas.
    "Comfy.TutorialCompleted": True,
}


# ---------------------------------------------------------------------------------------
# GET /object_info


def _node_info(name: str, input_types: dict, output: Iterable[str], *, output_names: Iterable[str] | None,
               output_node: bool, category: str, description: str, display_name: str, python_module: str,
               output_tooltips: Iterable[str] | None = None) -> dict:
    """One entry as ComfyUI's ``server.py`` ``node_info()`` writes it."""
    output = list(output)
    info = {
        "input": input_types,
        "input_order": {group: list(inputs) for group, inputs in input_types.items()},
        "output": output,
        "output_is_list": [False] * len(output),
        "output_name": list(output_names) if output_names is not None else output,
        "name": name,
        "display_name": display_name,
        "description": description,
        "python_module": python_module,
        "category": category,
        "output_node": output_node,
    }
    if output_tooltips is not None:
        info["output_tooltips"] = list(output_tooltips)
    return info


def _fill_file_combos(input_types: dict, file_names: dict[str, list[str]]) -> dict:
    """``FILE_COMBO`` replaced by the names the workflows choose there, as if the user's
    folders held exactly those files."""
    return {
        group: {name: (file_names.get(name, []), *spec[1:]) if spec[0] == FILE_COMBO else spec
                for name, spec in inputs.items()}
        for group, inputs in input_types.items()
    }


def file_names_in(workflows: Iterable[dict], ours: dict) -> dict[str, list[str]]:
    """Input name -> file names the workflows put in a core node's ``FILE_COMBO`` widget."""
    names: dict[str, set[str]] = {}
    for workflow in workflows:
        for node in workflow["nodes"]:
            if node["type"] in FRONTEND_ONLY or node["type"] in ours or node["type"] not in CORE_NODES:
                continue
            for (name, role, spec), value in zip(widget_slots(declaration(node["type"], ours)),
                                                 node.get("widgets_values", [])):
                if role == "widget" and spec[0] == FILE_COMBO:
                    names.setdefault(name, set()).add(value)
    return {name: sorted(values) for name, values in names.items()}


def object_info(ours: dict, display_names: dict, file_names: dict[str, list[str]]) -> dict:
    """What ``GET /object_info`` would answer in a ComfyUI with this pack installed,
    restricted to the core nodes our workflows use."""
    info = {}
    for name, declared in CORE_NODES.items():
        info[name] = _node_info(
            name, _fill_file_combos(declared["input"], file_names), declared["output"],
            output_names=None, output_node=declared["output_node"], category="core", description="",
            display_name=name, python_module="nodes",
        )
    for name, node_class in ours.items():
        info[name] = _node_info(
            name, node_class.INPUT_TYPES(), node_class.RETURN_TYPES,
            output_names=getattr(node_class, "RETURN_NAMES", None),
            output_node=bool(getattr(node_class, "OUTPUT_NODE", False)),
            category=getattr(node_class, "CATEGORY", "sd"), description=getattr(node_class, "DESCRIPTION", ""),
            display_name=display_names.get(name, name), python_module=PACK_MODULE,
            output_tooltips=getattr(node_class, "OUTPUT_TOOLTIPS", None),
        )
    return info


@contextmanager
def user_folders(workflows: Iterable[dict], ours: dict) -> Iterator[Path]:
    """Model and input folders holding what the workflows name, as ``HY3D_MODELS_DIR`` and
    ``HY3D_INPUT_DIR`` while inside: the tiny random models the workflow tests use (same
    names and layout as the releases) and a box under every mesh file name our nodes'
    widgets choose. Our loaders list what they find there, so ``object_info`` offers what
    a user who followed the workflows' notes would see."""
    import trimesh

    mesh_suffixes = pack_module("hy3d_core.io.mesh_files").LOAD_FORMATS
    mesh_names = {value for workflow in workflows for node in workflow["nodes"] if node["type"] in ours
                  for value in node.get("widgets_values", [])
                  if isinstance(value, str) and Path(value).suffix.lower() in mesh_suffixes}
    saved = {name: os.environ.get(name) for name in ("HY3D_MODELS_DIR", "HY3D_INPUT_DIR")}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_tiny_models(root / "models")
        write_paint_pbr_21_models(root / "models" / "hunyuan3d")
        for name in mesh_names:
            (root / "input" / name).parent.mkdir(parents=True, exist_ok=True)
            trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(root / "input" / name)
        os.environ.update(HY3D_MODELS_DIR=str(root / "models"), HY3D_INPUT_DIR=str(root / "input"))
        try:
            yield root
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


# ---------------------------------------------------------------------------------------
# The stand-in backend


def _placeholder_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (64, 64), (128, 128, 128, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def _api_answers(nodes: dict) -> dict[str, Any]:
    """``GET /api/<path>`` -> JSON body, for the calls the frontend makes at start-up."""
    return {
        "object_info": nodes,
        "features": {"supports_preview_metadata": True, "max_upload_size": 100 * 1024 * 1024},
        "users": {"storage": "server", "migrated": True},
        "settings": SETTINGS,
        "system_stats": {
            "system": {"os": "posix", "ram_total": 0, "ram_free": 0, "comfyui_version": "stand-in",
                       "python_version": sys.version, "pytorch_version": "", "embedded_python": False,
                       "argv": ["main.py", "--disable-api-nodes"]},
            "devices": [],
        },
        "i18n": {},
        "extensions": [],
        "embeddings": [],
        "queue": {"queue_running": [], "queue_pending": []},
        "history": {},
        "jobs": {"jobs": [], "pagination": {"offset": 0, "limit": 200, "total": 0, "has_more": False}},
        "global_subgraphs": {},
        "prompt": {"exec_info": {"queue_remaining": 0}},
        "workflow_templates": {},
        "userdata": [],
        "models": [],
        "experiment/models": [],
    }


INTERNAL_ANSWERS = {
    # The 3D viewer asks where ComfyUI's folders are (ComfyUI answers name -> paths).
    "folder_paths": {"input": ["/stand-in/input"], "output": ["/stand-in/output"]},
}


class _StandInHandler(SimpleHTTPRequestHandler):
    """Static files from the frontend package, the API calls from ``answers``, 404 for
    the rest (as ComfyUI answers a missing user file)."""

    protocol_version = "HTTP/1.1"
    answers: dict[str, Any] = {}
    placeholder_png = b""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/ws":
            self._websocket()
            return
        if path.startswith("/internal/") and path[len("/internal/"):] in INTERNAL_ANSWERS:
            self._send(200, json.dumps(INTERNAL_ANSWERS[path[len("/internal/"):]]).encode())
            return
        if not path.startswith("/api/"):
            super().do_GET()
            return
        api_path = path[len("/api/"):]
        if api_path == "view":
            self._send(200, self.placeholder_png, "image/png")
        elif api_path in self.answers:
            self._send(200, json.dumps(self.answers[api_path]).encode())
        elif api_path.startswith("settings/"):
            key = api_path[len("settings/"):]
            self._send(200, json.dumps(self.answers["settings"].get(key)).encode())
        else:
            self._send(404, b"")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._send(200, b"{}")

    def _websocket(self) -> None:
        """Just enough of RFC 6455 for the frontend's status socket: the handshake, one
        ``status`` message, then read until the browser goes away."""
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        sid = parse_qs(urlsplit(self.path).query).get("clientId", ["stand-in"])[0]
        message = json.dumps({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": 0}},
                                                         "sid": sid}}).encode()
        length = bytes([len(message)]) if len(message) < 126 else bytes([126]) + len(message).to_bytes(2, "big")
        self.wfile.write(bytes([0x81]) + length + message)
        self.wfile.flush()
        while self.rfile.read(1):
            pass
        self.close_connection = True


class StandInBackend:
    """The frontend's server, on 127.0.0.1 at a free port, in a background thread."""

    def __init__(self, static_dir: Path, nodes: dict):
        class Handler(_StandInHandler):
            answers = _api_answers(nodes)
            placeholder_png = _placeholder_png()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(static_dir)))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> "StandInBackend":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------------------------------
# Driving the frontend


@dataclass
class FrontendLoad:
    """What the frontend made of one workflow file (``prompt`` None: it never showed the
    workflow's nodes)."""

    prompt: dict | None
    unregistered_types: list[str]
    dialogs: list[str]
    messages: list[str]


_DROP_FILE = """async ([name, text]) => {
    const file = new File([text], name, {type: 'application/json'});
    const transfer = new DataTransfer();
    transfer.items.add(file);
    const target = document.querySelector('#graph-canvas') || document.querySelector('canvas');
    const rect = target.getBoundingClientRect();
    const where = {clientX: rect.left + rect.width / 2, clientY: rect.top + rect.height / 2};
    for (const type of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, {
            bubbles: true, cancelable: true, dataTransfer: transfer, ...where}));
    }
}"""

_UNREGISTERED_TYPES = """() => window.app.graph.nodes
    .filter(node => !(node.type in window.LiteGraph.registered_node_types)).map(node => node.type)"""

# Texts of the dialogs, toasts and notices on screen (the missing-node notice is a
# ``role=status`` box).
_SHOWN_NOTICES = """() => Array.from(document.querySelectorAll(
        '[role=dialog], [role=alertdialog], [role=alert], [role=status], .p-toast-message'))
    .filter(element => element.offsetParent !== null)
    .map(element => element.innerText.trim().replace(/\\s+/g, ' '))
    .filter(text => text.length > 0)"""


# Wide enough for the long left-to-right workflows, and drawn at 1.5 device pixels per
# CSS pixel so that titles and widget values stay legible at the zoom that fits them.
SCREENSHOT_VIEWPORT = {"width": 2560, "height": 1080}
SCREENSHOT_PIXEL_RATIO = 1.5
# CSS pixels kept around the graph: the nodes' source badges sit above their titles.
SCREENSHOT_MARGIN = 40

# Focus mode hides the tabs, side bar and action bar; the minimap and the canvas
# statistics are drawn on the canvas itself and have their own settings. Font size 0
# turns off the simplified drawing (no text) that the frontend uses when zoomed out.
_PREPARE_SCREENSHOTS = """async () => {
    const workspace = window.app.extensionManager;
    await workspace.command.execute('Workspace.ToggleFocusMode');
    await workspace.setting.set('Comfy.Minimap.Visible', false);
    await workspace.setting.set('Comfy.Graph.CanvasInfo', false);
    await workspace.setting.set('LiteGraph.Canvas.MinFontSizeForLOD', 0);
}"""

# Fit view animates (350 ms), so wait until the view stops moving and is drawn; then the
# graph's bounds on the page, in CSS pixels.
_FIT_VIEW = """async () => {
    await window.app.extensionManager.command.execute('Comfy.Canvas.FitView');
    const canvas = window.app.canvas;
    const frame = () => new Promise(resolve => requestAnimationFrame(resolve));
    await new Promise(resolve => setTimeout(resolve, 500));
    let view = '';
    while (view !== JSON.stringify([canvas.ds.scale, ...canvas.ds.offset])) {
        view = JSON.stringify([canvas.ds.scale, ...canvas.ds.offset]);
        await frame();
    }
    await frame();
    const corners = Array.from(canvas.positionableItems).flatMap(item => {
        const [x, y, width, height] = item.boundingRect;
        return [canvas.ds.convertOffsetToCanvas([x, y]),
                canvas.ds.convertOffsetToCanvas([x + width, y + height])];
    });
    const page = canvas.canvas.getBoundingClientRect();
    return {left: page.left + Math.min(...corners.map(point => point[0])),
            top: page.top + Math.min(...corners.map(point => point[1])),
            right: page.left + Math.max(...corners.map(point => point[0])),
            bottom: page.top + Math.max(...corners.map(point => point[1]))};
}"""


_NOISE = (
    # The text of this one names no URL; the response and requestfailed records do.
    "Failed to load resource",
    # Headless Chromium's software WebGL, not the frontend.
    "GL Driver Message",
)


class _PageEvents:
    """Console warnings and errors, page errors and failed requests, as text; and how
    many requests are still open, to know when the frontend has settled."""

    def __init__(self, page):
        self.messages: list[str] = []
        self.open_requests = 0
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.messages.append(f"page error: {error}"))
        page.on("request", self._opened)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)

    def _console(self, message) -> None:
        if message.type in ("error", "warning") and not any(noise in message.text for noise in _NOISE):
            self.messages.append(f"console.{message.type}: {message.text}")

    def _opened(self, request) -> None:
        self.open_requests += 1

    def _finished(self, request) -> None:
        self.open_requests -= 1
        response = request.response()
        if response is not None and response.status >= 400:
            self.messages.append(f"HTTP {response.status}: {request.method} {request.url}")

    def _failed(self, request) -> None:
        self.open_requests -= 1
        self.messages.append(f"request failed: {request.method} {request.url} ({request.failure})")

    def settle(self, page, quiet_s: float = 0.5) -> None:
        """Wait until no request has been open for ``quiet_s``, so that what one workflow
        causes is not reported under the next."""
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < quiet_s and time.monotonic() < deadline:
            page.wait_for_timeout(100)
            if self.open_requests > 0:
                quiet_since = time.monotonic()

    def take(self) -> list[str]:
        taken, self.messages = self.messages, []
        return taken


def _wait_for(page, expression: str, argument: Any = None) -> None:
    page.wait_for_function(expression, arg=argument, timeout=LOAD_TIMEOUT_S * 1000)


def _save_screenshot(page, path: Path) -> None:
    """The graph fitted to the view, cut to its bounds (less of the empty canvas, and none
    of the frontend's corner buttons)."""
    bounds = page.evaluate(_FIT_VIEW)
    viewport = page.viewport_size
    left = max(0.0, bounds["left"] - SCREENSHOT_MARGIN)
    top = max(0.0, bounds["top"] - SCREENSHOT_MARGIN)
    right = min(float(viewport["width"]), bounds["right"] + SCREENSHOT_MARGIN)
    bottom = min(float(viewport["height"]), bounds["bottom"] + SCREENSHOT_MARGIN)
    page.screenshot(path=path, clip={"x": left, "y": top, "width": right - left, "height": bottom - top})


def load_in_frontend(url: str, workflows: dict[str, dict], chromium: str,
                     screenshot_dir: Path | None = None) -> tuple[dict[str, FrontendLoad], list[str]]:
    """Each workflow dropped on the canvas of one frontend page, in turn (the graph is
    cleared before each, so that the wait for its nodes cannot match the previous one);
    also the messages of the start-up itself. With ``screenshot_dir``, each workflow the
    frontend showed is also saved there as ``<name>.png``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    results = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            if screenshot_dir is None:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
            else:
                page = browser.new_page(viewport=SCREENSHOT_VIEWPORT, device_scale_factor=SCREENSHOT_PIXEL_RATIO)
            events = _PageEvents(page)
            page.goto(url)
            _wait_for(page, "() => window.app && window.app.graph && window.LiteGraph"
                            " && document.querySelector('#graph-canvas') !== null"
                            " && Object.keys(window.LiteGraph.registered_node_types).includes('H3DSaveMesh')")
            if screenshot_dir is not None:
                page.evaluate(_PREPARE_SCREENSHOTS)
            events.settle(page)
            start_up = events.take()
            for name, workflow in workflows.items():
                page.evaluate("() => window.app.graph.clear()")
                shown_before = set(page.evaluate(_SHOWN_NOTICES))
                expected = sorted(f"{node['id']}:{node['type']}" for node in workflow["nodes"])
                page.evaluate(_DROP_FILE, [name, json.dumps(workflow)])
                try:
                    _wait_for(page, "nodes => JSON.stringify(window.app.graph.nodes.map(n => `${n.id}:${n.type}`)"
                                    ".sort()) === JSON.stringify(nodes)", expected)
                except PlaywrightTimeout:
                    prompt = None
                else:
                    prompt = page.evaluate("async () => (await window.app.graphToPrompt()).output")
                events.settle(page)
                unregistered = page.evaluate(_UNREGISTERED_TYPES)
                dialogs = [text for text in page.evaluate(_SHOWN_NOTICES) if text not in shown_before]
                if screenshot_dir is not None and prompt is not None:
                    _save_screenshot(page, screenshot_dir / f"{Path(name).stem}.png")
                results[name] = FrontendLoad(prompt, unregistered, dialogs, events.take())
        finally:
            browser.close()
    return results, start_up


# ---------------------------------------------------------------------------------------
# Comparing


def compare_prompts(ours: dict, theirs: dict, declared: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    """Every difference between our API prompt and the frontend's, node by node; and, as
    notes, inputs the frontend adds that the node does not declare (its own widgets, such
    as the 3D viewer's ``image``), which ComfyUI's server drops before running the node."""
    differences, notes = [], []
    for node_id in sorted(set(ours) | set(theirs), key=lambda key: int(key) if key.isdigit() else key):
        if node_id not in theirs:
            differences.append(f"node {node_id} ({ours[node_id]['class_type']}): only in ours")
            continue
        if node_id not in ours:
            differences.append(f"node {node_id} ({theirs[node_id]['class_type']}): only in the frontend's")
            continue
        mine, frontend = ours[node_id], theirs[node_id]
        where = f"node {node_id} ({mine['class_type']})"
        if mine["class_type"] != frontend["class_type"]:
            differences.append(f"{where}: class_type {mine['class_type']!r} vs {frontend['class_type']!r}")
            continue
        for name in list(mine["inputs"]) + [key for key in frontend["inputs"] if key not in mine["inputs"]]:
            if name not in frontend["inputs"]:
                differences.append(f"{where}.{name}: ours {mine['inputs'][name]!r}, missing in the frontend's")
            elif name not in mine["inputs"]:
                line = f"{where}.{name}: frontend {frontend['inputs'][name]!r}, missing in ours"
                if name in declared.get(mine["class_type"], set()):
                    differences.append(line)
                else:
                    notes.append(f"{line} (not declared by the node: the server ignores it)")
            elif not _same_value(mine["inputs"][name], frontend["inputs"][name]):
                differences.append(f"{where}.{name}: ours {mine['inputs'][name]!r}, "
                                   f"frontend {frontend['inputs'][name]!r}")
    return differences, notes


def values_not_offered(prompt: dict, nodes: dict) -> list[str]:
    """Widget values of the frontend's prompt that are not among the combo's options, which
    ComfyUI's server rejects ("Value not in list") before running anything."""
    problems = []
    for node_id, node in prompt.items():
        info = nodes.get(node["class_type"])
        if info is None:
            continue
        declared = {name: spec for group in info["input"].values() for name, spec in group.items()}
        for name, value in node["inputs"].items():
            spec = declared.get(name)
            offered = spec is not None and isinstance(spec[0], (list, tuple))
            if offered and not isinstance(value, list) and value not in spec[0]:
                problems.append(f"node {node_id} ({node['class_type']}).{name}: {value!r} "
                                f"is not one of {list(spec[0])}")
    return problems


def _same_value(mine: Any, frontend: Any) -> bool:
    """JSON equality, where 5.0 == 5 (JavaScript has one number type) but True != 1."""
    if isinstance(mine, bool) or isinstance(frontend, bool):
        return type(mine) is type(frontend) and mine == frontend
    return mine == frontend


def declared_input_names(nodes: dict) -> dict[str, set[str]]:
    """Node id -> the input names its ``object_info`` entry declares."""
    return {name: {input_name for group in info["input"].values() for input_name in group}
            for name, info in nodes.items()}


def problems_of(load: FrontendLoad, ours: dict | None, nodes: dict) -> tuple[list[str], list[str]]:
    """(problems, notes) of one workflow: what the frontend could not load, what it said,
    where its prompt differs from ours (``None``: we have none to compare) and which of
    its values the server would refuse."""
    problems = [f"unknown node type in the frontend: {name}" for name in load.unregistered_types]
    problems += [f"dialog or toast: {text}" for text in load.dialogs]
    problems += load.messages
    if load.prompt is None:
        return problems + [f"the frontend did not show the workflow's nodes within {LOAD_TIMEOUT_S:.0f} s"], []
    differences, notes = [], []
    if ours is not None:
        differences, notes = compare_prompts(ours, load.prompt, declared_input_names(nodes))
    return problems + differences + values_not_offered(load.prompt, nodes), notes


# ---------------------------------------------------------------------------------------


def frontend_static_dir() -> Path:
    import comfyui_frontend_package

    return Path(comfyui_frontend_package.__file__).parent / "static"


@dataclass
class WorkflowCheck:
    problems: list[str]
    notes: list[str]


def check(paths: list[Path], chromium: str,
          screenshot_dir: Path | None = None) -> tuple[dict[str, WorkflowCheck], list[str]]:
    """Workflow file name -> its problems (none: the frontend loads it and agrees with our
    converter) and notes; and what the frontend said while starting, before any load.
    With ``screenshot_dir``, also a picture of each workflow there (``load_in_frontend``)."""
    pack = load_pack()
    ours = pack.NODE_CLASS_MAPPINGS
    workflows = {path.name: json.loads(path.read_text()) for path in paths}
    with user_folders(workflows.values(), ours):
        nodes = object_info(ours, getattr(pack, "NODE_DISPLAY_NAME_MAPPINGS", {}),
                            file_names_in(workflows.values(), ours))
    with StandInBackend(frontend_static_dir(), nodes) as backend:
        loads, start_up = load_in_frontend(backend.url, workflows, chromium, screenshot_dir)
    checks = {}
    for name, workflow in workflows.items():
        unknown = sorted(map(str, {node["type"] for node in workflow["nodes"]} - set(ours) - set(CORE_NODES)
                             - FRONTEND_ONLY))
        if unknown:
            problems, notes = problems_of(loads[name], None, nodes)
            problems.append(f"our converter cannot convert node types {unknown}: neither ours nor in "
                            "tests/nodes/core_nodes.py")
        else:
            problems, notes = problems_of(loads[name], workflow_to_api(workflow, ours), nodes)
        checks[name] = WorkflowCheck(problems, notes)
    return checks, start_up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workflows", nargs="*", type=Path)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--screenshot", type=Path, metavar="DIR",
                        help="also save a PNG of each workflow's graph in DIR")
    arguments = parser.parse_args(argv)
    paths = arguments.workflows or sorted((REPO_ROOT / "workflows").glob("*.json"))
    if arguments.screenshot is not None:
        arguments.screenshot.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    checks, start_up = check(paths, arguments.chromium, arguments.screenshot)
    for line in start_up:
        print(f"(frontend start-up, not counted) {line}")
    for name, result in checks.items():
        print(f"{name}: OK" if not result.problems else f"{name}: {len(result.problems)} problem(s)")
        for problem in result.problems:
            print(f"    {problem}")
        for note in result.notes:
            print(f"    note: {note}")
    print(f"({len(checks)} workflows in {time.monotonic() - started:.1f} s)")
    return 1 if any(result.problems for result in checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
