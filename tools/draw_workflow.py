"""Draw a ComfyUI workflow (UI format JSON) as a PNG, for the README.

A picture of the graph as ComfyUI lays it out (node boxes at their saved positions,
titles, input and output slots, widget values, links) without running ComfyUI, which
cannot be installed here. Usage: ``python tools/draw_workflow.py WORKFLOW.json OUT.png``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SLOT_HEIGHT = 20
TITLE_HEIGHT = 26
MARGIN = 40
COLOURS = {
    "IMAGE": (100, 181, 246), "MASK": (129, 199, 132), "LATENT": (255, 138, 128),
    "MESH": (255, 213, 79), "VOXEL": (206, 147, 216), "STRING": (176, 190, 197),
}


def _colour(kind: str) -> tuple[int, int, int]:
    return COLOURS.get(kind, (144, 164, 174))


def draw(workflow: dict) -> Image.Image:
    nodes = {node["id"]: node for node in workflow["nodes"]}
    left = min(n["pos"][0] for n in nodes.values()) - MARGIN
    top = min(n["pos"][1] for n in nodes.values()) - MARGIN - TITLE_HEIGHT
    right = max(n["pos"][0] + n["size"][0] for n in nodes.values()) + MARGIN
    bottom = max(n["pos"][1] + n["size"][1] for n in nodes.values()) + MARGIN
    image = Image.new("RGB", (int(right - left), int(bottom - top)), (32, 32, 32))
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default()

    def origin(node):
        return node["pos"][0] - left, node["pos"][1] - top

    def slot_point(node, index, output):
        x, y = origin(node)
        return (x + node["size"][0] if output else x, y + 10 + index * SLOT_HEIGHT)

    for _, source, source_slot, target, target_slot, kind in workflow["links"]:
        start = slot_point(nodes[source], source_slot, True)
        end = slot_point(nodes[target], target_slot, False)
        middle = (start[0] + end[0]) / 2
        pen.line([start, (middle, start[1]), (middle, end[1]), end], fill=_colour(kind), width=3)

    for node in nodes.values():
        x, y = origin(node)
        width, height = node["size"]
        is_note = node["type"] == "Note"
        pen.rectangle([x, y - TITLE_HEIGHT, x + width, y], fill=(70, 70, 40) if is_note else (60, 60, 60))
        pen.rectangle([x, y, x + width, y + height], fill=(48, 48, 36) if is_note else (44, 44, 44),
                      outline=(90, 90, 90))
        pen.text((x + 8, y - TITLE_HEIGHT + 7), node.get("title", node["type"]), fill=(235, 235, 235), font=font)
        for index, slot in enumerate(node.get("inputs", [])):
            px, py = slot_point(node, index, False)
            pen.ellipse([px - 5, py - 5, px + 5, py + 5], fill=_colour(slot["type"]))
            pen.text((px + 9, py - 6), slot["name"], fill=(200, 200, 200), font=font)
        for index, slot in enumerate(node.get("outputs", [])):
            px, py = slot_point(node, index, True)
            pen.ellipse([px - 5, py - 5, px + 5, py + 5], fill=_colour(slot["type"]))
            label = slot["name"]
            pen.text((px - 9 - pen.textlength(label, font=font), py - 6), label, fill=(200, 200, 200), font=font)
        rows = max(len(node.get("inputs", [])), len(node.get("outputs", [])))
        text_y = y + 10 + rows * SLOT_HEIGHT
        for value in node.get("widgets_values", []) or []:
            text = str(value).replace("\n", " ")
            if text_y + 14 > y + height:
                break
            pen.text((x + 10, text_y), text[: int(width / 6.5)], fill=(160, 200, 160), font=font)
            text_y += 16
    return image


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: python tools/draw_workflow.py WORKFLOW.json OUT.png")
    workflow = json.loads(Path(sys.argv[1]).read_text())
    draw(workflow).save(sys.argv[2])


if __name__ == "__main__":
    main()
