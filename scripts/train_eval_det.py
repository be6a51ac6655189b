#!/usr/bin/env python
"""Train the default text detector for a bounded time on synthetic pages, then score it on pages it never saw in
kind, beside RapidOCR's PP-OCRv4 detector on the same pages.

Training pages use every font but the held-out families (``HELD_OUT_FAMILIES``) and every background but the
held-out kinds (``HELD_OUT_BACKGROUNDS``); the evaluation pages are drawn in those families on those backgrounds,
with another seed, distorted by the training augmentation (rotation, perspective, curvature, blur, noise). Scored by the ICDAR2015 protocol (IoU >= 0.5, one to one), per page layout and in all, with the
reading speed (pages/s, one page at a time, preprocessing and post-processing included) of the exported model in
ONNX Runtime. RapidOCR (``pip install rapidocr-onnxruntime "opencv-python<5"``, for this script only; without the
pin its OpenCV 5 shadows lightocr's OpenCV 4) reads the same pages with its own preprocessing; its boxes are scored
the same way.

    python scripts/train_eval_det.py [--minutes 30] [--eval-pages 300] [-- LightningCLI overrides]
    python scripts/train_eval_det.py --eval-only runs/train_eval_det/version_0/checkpoints/last.ckpt
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import torch
from PIL import Image

from _report import (HELD_OUT_FAMILIES, ROOT, bounded_fit, read_fit, source_yaml, split_fonts, train_eval_parser,
                     write_section)

from lightocr.data.detection import DEFAULT_PAGE_AUGMENT, augment_page
from lightocr.data.sources import DONT_CARE
from lightocr.data.pages import BACKGROUNDS, LAYOUTS, SyntheticPageSource
from lightocr.data.transforms import build_pipeline
from lightocr.export import export_task
from lightocr.predictor import open_predictor
from lightocr.tasks import load_task
from lightocr.tasks.detection.metrics import DetectionMetric

START, END = "<!-- detection:start -->", "<!-- detection:end -->"
EVAL_SEED = 2_024_113
HELD_OUT_BACKGROUNDS = ("ruled", "speckle")
TRAIN_BACKGROUNDS = [kind for kind in BACKGROUNDS if kind not in HELD_OUT_BACKGROUNDS]


def pages_yaml(config: str, fonts: List[str], size: int, seed: int,
               backgrounds: Sequence[str] = TRAIN_BACKGROUNDS) -> str:
    """The config's training pages (``source_yaml``) in ``fonts`` on ``backgrounds``."""
    return source_yaml(config, fonts, size, seed, default="lightocr.data.SyntheticPageSource",
                       backgrounds=list(backgrounds))


def held_out_pages(fonts: List[str], count: int, backgrounds: Sequence[str] = HELD_OUT_BACKGROUNDS
                   ) -> Dict[str, List[Tuple[Image.Image, list]]]:
    """``count`` pages in all, as many per layout, in the held-out fonts on ``backgrounds`` (the held-out ones),
    distorted, with their true regions."""
    augment = build_pipeline(DEFAULT_PAGE_AUGMENT, keypoints=True)
    pages: Dict[str, List[Tuple[Image.Image, list]]] = {}
    for number, layout in enumerate(LAYOUTS):
        source = SyntheticPageSource(count // len(LAYOUTS), seed=EVAL_SEED + number, layouts=[layout],
                                     font_include=fonts, backgrounds=backgrounds)
        for index in range(len(source)):
            image, regions, _ = source.load(index)
            pixels, points = augment_page(augment, np.asarray(image), [np.asarray(r.polygon, np.float32)
                                                                         for r in regions],
                                          EVAL_SEED + 97 * number + index)
            truths = [(p, r.text == DONT_CARE) for p, r in zip(points, regions)]
            pages.setdefault(layout, []).append((Image.fromarray(pixels), truths))
    return pages


def score(find: Callable[[Image.Image], List[np.ndarray]], pages: Dict[str, list]) -> dict:
    """Precision, recall and hmean per layout and in all, and pages/s (one page at a time)."""
    total, result, seconds, count = DetectionMetric(), {}, 0.0, 0
    for layout, items in pages.items():
        metric = DetectionMetric()
        for image, truths in items:
            start = time.perf_counter()
            boxes = find(image)
            seconds += time.perf_counter() - start
            count += 1
            metric.update([boxes], [truths])
            total.update([boxes], [truths])
        result[layout] = {k: float(v) for k, v in metric.compute().items()}
    result["all"] = {k: float(v) for k, v in total.compute().items()}
    result["pages_per_s"] = count / seconds
    return result


def lightocr_finder(model: Path) -> Callable:
    """The boxes an exported detector (``.onnx``) finds on a page, read once at its size."""
    predictor = open_predictor(model)
    predictor(Image.new("RGB", (64, 64), "white"))  # warm-up

    def find(image: Image.Image) -> List[np.ndarray]:
        prepared = predictor.collate([predictor.prepare(image)])
        return [points for points, _ in predictor.predict_batch(prepared)[0].boxes]
    return find


def rapidocr_finder():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR()

    def find(image: Image.Image) -> List[np.ndarray]:
        result, _ = engine(np.asarray(image.convert("RGB"))[:, :, ::-1], use_det=True, use_cls=False, use_rec=False)
        return [np.asarray(box, np.float32) for box in (result or [])]
    return find


def main() -> int:
    parser = train_eval_parser(__doc__, "det_mobilenetv3.yaml", 30.0, "train_eval_det")
    parser.add_argument("--eval-pages", type=int, default=300)
    parser.add_argument("--eval-only", metavar="CKPT", help="score a checkpoint instead of training")
    args = parser.parse_args()
    train_fonts, held_out = split_fonts()
    print(f"held-out families: {held_out}", flush=True)
    if args.eval_only:
        fit = read_fit(Path(args.eval_only)) or dict(checkpoint=Path(args.eval_only), steps=None, minutes=None)
    else:
        fit = bounded_fit(args.config, args.minutes, Path(args.run_dir), [
            f"--data.init_args.train_sources={pages_yaml(args.config, train_fonts, 1_000_000, 0)}",
            f"--data.init_args.val_sources={pages_yaml(args.config, train_fonts, 100, 1_000_003)}", *args.extra])
    pages = held_out_pages(held_out, args.eval_pages)
    torch.set_num_threads(torch.get_num_threads())
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        rows["lightocr DB, default config"] = score(lightocr_finder(export_task(load_task(str(fit["checkpoint"])), Path(folder) / "det.onnx")), pages)
    rapid = rapidocr_finder()
    if rapid is not None:
        rows["RapidOCR PP-OCRv4 mobile det (its API)"] = score(rapid, pages)
    print(json.dumps(rows, indent=1))
    if args.no_docs or fit.get("steps") is None:
        return 0
    table = ["| detector | hmean | precision | recall | " + " | ".join(f"hmean {l}" for l in LAYOUTS)
             + " | pages/s |", "|---" * (5 + len(LAYOUTS)) + "|"]
    for name, result in rows.items():
        table.append(f"| {name} | {result['all']['hmean']:.3f} | {result['all']['precision']:.3f} | "
                     f"{result['all']['recall']:.3f} | " + " | ".join(f"{result[l]['hmean']:.3f}" for l in LAYOUTS)
                     + f" | {result['pages_per_s']:.1f} |")
    section = "\n".join([
        START, "## Text detection on synthetic pages in held-out fonts (CPU)", "",
        f"Command: `python scripts/train_eval_det.py --minutes {fit['minutes']:g}`  ",
        f"{fit['steps']} steps in {fit['train_seconds'] / 60:.1f} min; {args.eval_pages} pages in the "
        f"{', '.join(f[:-1] for f in HELD_OUT_FAMILIES)} families on {' and '.join(HELD_OUT_BACKGROUNDS)} "
        "backgrounds (neither seen in training), another seed, distorted; ICDAR2015 protocol (IoU >= 0.5, one to "
        "one). pages/s: one page at a time, preprocessing and post-processing included, 2 CPU threads.",
        "", *table, END])
    write_section(ROOT / "docs/benchmarks.md", section, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
