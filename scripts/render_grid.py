#!/usr/bin/env python
"""Save a grid of synthetic training lines as the model receives them (rendered, distorted by the default
augmentation, resized to the line height) to look at them; each row is labelled with its font and text.

    python scripts/render_grid.py --out runs/grid.png [--fonts 'STIX*' 'DejaVuSerif*'] [--lines 24] [--no-augment]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from lightocr.data import SyntheticTextSource, default_augment
from lightocr.data.geometry import LineGeometry
from lightocr.data.transforms import augment_line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/grid.png")
    parser.add_argument("--fonts", nargs="*", help="font file-name patterns (default: every font)")
    parser.add_argument("--lines", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--height", type=int, default=32)
    parser.add_argument("--no-augment", action="store_true")
    args = parser.parse_args()

    source = SyntheticTextSource(size=args.lines, seed=args.seed, font_include=args.fonts)
    geometry = LineGeometry(height=args.height, max_width=10 * args.height, pad_to="max")
    augment = None if args.no_augment else default_augment()
    rows = []
    for index in range(args.lines):
        rng = np.random.default_rng([source.seed, 0, index])
        text = source.sampler.text(rng)
        font = source.font_pool.fonts_for(text)[int(rng.integers(len(source.font_pool.fonts_for(text))))]
        image, _, _ = source.load(index)
        if augment is not None:
            image = augment_line(augment, image, index)
        pixels = (geometry.to_array(image).transpose(1, 2, 0) * geometry.std + geometry.mean).clip(0, 1)
        line = Image.fromarray((pixels * 255).astype(np.uint8)).convert("RGB")
        row = Image.new("RGB", (line.width + 260, line.height + 4), "white")
        row.paste(line, (0, 2))
        ImageDraw.Draw(row).text((line.width + 6, 8), f"{Path(font).stem[:18]}: {text}", fill="black")
        rows.append(row)
    grid = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for row in rows:
        grid.paste(row, (0, y))
        y += row.height
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out)
    print(f"wrote {args.out}: {len(rows)} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
