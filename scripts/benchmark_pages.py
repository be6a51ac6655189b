#!/usr/bin/env python
"""Read whole pages end to end (``lightocr.PageReader``) and score the text, beside RapidOCR on the same pages.

Pages: ``--pages`` per page kind of the detector's data (``SyntheticPageSource`` layouts: paragraph, columns,
form, receipt, label), in the held-out font families only (``HELD_OUT_FAMILIES``: no default model trained on
them) on every background, from a seed no training used, with mild distortions (tilt of up to 2 degrees, blur,
noise). The truth of a page is its lines' texts in the order the page was written (columns one after the other,
forms row by row).

Figures per reader and engine:
- page CER: the edit distance between the page's text and what the reader read, each in reading order with its
  whitespace normalized (lines joined by one space), over the characters of all pages (torchmetrics);
- line hmean: a read line counts when its box matches a true line (IoU >= 0.5, one to one) and its text is the
  line's text exactly; precision over the lines read, recall over the true lines;
- pages/s, one page at a time, decoding the image, detection, recognition and ordering included.

A third row reads the same pages with the recognizer alone on the true line boxes, in the written order (no
detection, no ordering): what recognition costs of the page CER, the rest being detection and order.

RapidOCR (``pip install rapidocr-onnxruntime "opencv-python<5"``, for this script only: it requires
``opencv-python``, whose 5.x would shadow lightocr's OpenCV 4 and its Hershey stroke fonts; PP-OCRv4 mobile
detection and recognition, no angle classifier) reads the same pages through its own API, its lines in its own
order.

    python scripts/benchmark_pages.py [--pages 200] [--det lightocr-det] [--rec lightocr-rec-document]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Callable, Dict, List, Tuple

import cv2
import numpy as np
from _report import HELD_OUT_FAMILIES, ROOT, split_fonts, write_section
from PIL import Image
from torchmetrics.text import CharErrorRate

from lightocr.data.pages import LAYOUTS, SyntheticPageSource
from lightocr.data.transforms import build_pipeline
from lightocr.page_reader import CROP_MARGIN, PageReader, crop_line, open_model, recognize_crops
from lightocr.pretrained import DEFAULT_DETECTOR, DEFAULT_RECOGNIZER
from lightocr.tasks.detection.metrics import IOU_THRESHOLD, polygon

EVAL_SEED = 5_151_003
MILD_PAGE = [dict(transform="Affine", rotate=(-2, 2), fit_output=True, border_mode=cv2.BORDER_REPLICATE, p=1.0),
             dict(transform="GaussianBlur", blur_limit=(3, 3), p=0.3),
             dict(transform="GaussNoise", std_range=(0.01, 0.04), p=0.3)]
START, END = "<!-- pages:start -->", "<!-- pages:end -->"
Line = Tuple[np.ndarray, str]  # (polygon, text)


def normalized(text: str) -> str:
    return " ".join(text.split())


def held_out_pages(fonts: List[str], per_kind: int) -> Dict[str, List[Tuple[Image.Image, List[Line]]]]:
    """``per_kind`` pages of each layout in ``fonts``, mildly distorted, with their true lines in written order."""
    from lightocr.data.detection import augment_page

    augment, pages = build_pipeline(MILD_PAGE, keypoints=True), {}
    for number, layout in enumerate(LAYOUTS):
        source = SyntheticPageSource(per_kind, seed=EVAL_SEED + number, layouts=[layout], font_include=fonts)
        for index in range(per_kind):
            image, regions, _ = source.load(index)
            pixels, points = augment_page(augment, np.asarray(image), [np.asarray(r.polygon, np.float32)
                                                                         for r in regions], EVAL_SEED + index)
            pages.setdefault(layout, []).append((Image.fromarray(pixels),
                                                 [(p, r.text) for p, r in zip(points, regions)]))
    return pages


def matched_lines(read: List[Line], truths: List[Line]) -> int:
    """True lines found with their exact text: each takes the first unused read line over the IoU threshold
    whose text is its own."""
    shapes, used, found = [polygon(p) for p, _ in read], set(), 0
    for points, text in truths:
        truth = polygon(points)
        for index, (shape, (_, said)) in enumerate(zip(shapes, read)):
            union = shape.union(truth).area
            if index not in used and normalized(said) == normalized(text) and union > 0 and \
                    shape.intersection(truth).area / union >= IOU_THRESHOLD:
                used.add(index)
                found += 1
                break
    return found


def score(read_page: Callable[[Image.Image, List[Line]], List[Line]], pages: Dict[str, list], timed: bool = True
          ) -> dict:
    """Page CER, line precision/recall/hmean per layout and in all, and pages/s (None when not ``timed``: a
    reading that is not a whole reader's)."""
    result, seconds, count = {}, 0.0, 0
    every = dict(truths=[], reads=[], found=0, read=0, true=0)
    for layout, items in pages.items():
        tally = dict(truths=[], reads=[], found=0, read=0, true=0)
        for image, truths in items:
            start = time.perf_counter()
            lines = read_page(image, truths)
            seconds += time.perf_counter() - start
            count += 1
            for counts in (tally, every):
                counts["truths"].append(normalized(" ".join(text for _, text in truths)))
                counts["reads"].append(normalized(" ".join(text for _, text in lines)))
                counts["found"] += matched_lines(lines, truths)
                counts["read"] += len(lines)
                counts["true"] += len(truths)
        result[layout] = summary(tally)
    result["all"] = summary(every)
    result["pages_per_s"] = count / seconds if timed else None
    return result


def summary(tally: dict) -> dict:
    precision, recall = tally["found"] / max(1, tally["read"]), tally["found"] / max(1, tally["true"])
    return dict(cer=float(CharErrorRate()(tally["reads"], tally["truths"])), precision=precision, recall=recall,
                hmean=2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def lightocr_reader(det: str, rec: str, engine: str) -> Callable[[Image.Image], List[Line]]:
    reader = PageReader(det, rec, engine=engine)
    reader(Image.new("RGB", (64, 64), "white"))  # warm-up

    def read_page(image: Image.Image, truths: List[Line]) -> List[Line]:
        return [(line.polygon, line.text) for line in reader(image)]
    return read_page


def true_box_reader(rec: str) -> Callable[[Image.Image, List[Line]], List[Line]]:
    """The recognizer (ONNX Runtime) reading crops of the true line boxes as ``PageReader`` crops and batches
    them, in the written order."""
    recognizer, _ = open_model(rec, DEFAULT_RECOGNIZER, "onnxruntime")

    def read_page(image: Image.Image, truths: List[Line]) -> List[Line]:
        pixels = np.asarray(image.convert("RGB"))
        crops = [Image.fromarray(crop_line(pixels, points, CROP_MARGIN)) for points, _ in truths]
        return [(points, found.text) for (points, _), found in zip(truths, recognize_crops(recognizer, crops))]
    return read_page


def rapidocr_reader():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR()

    def read_page(image: Image.Image, truths: List[Line]) -> List[Line]:
        found, _ = engine(np.asarray(image.convert("RGB"))[:, :, ::-1], use_det=True, use_cls=False, use_rec=True)
        return [(np.asarray(box, np.float32), text) for box, text, _ in (found or [])]
    return read_page


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=200, help="pages per page kind")
    parser.add_argument("--det", default=DEFAULT_DETECTOR)
    parser.add_argument("--rec", default=DEFAULT_RECOGNIZER)
    parser.add_argument("--engines", nargs="+", default=["onnxruntime", "torch"])
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    _, held_out = split_fonts()
    pages = held_out_pages(held_out, args.pages)
    rows = {f"lightocr ({args.det} + {args.rec}), {engine}": lightocr_reader(args.det, args.rec, engine)
            for engine in args.engines}
    true_boxes = f"{args.rec} on the true line boxes, in written order (no detector)"
    rows[true_boxes] = true_box_reader(args.rec)
    rapid = rapidocr_reader()
    if rapid is not None:
        rows["RapidOCR PP-OCRv4 mobile det + rec (its API)"] = rapid
    results = {name: score(reader, pages, timed=name != true_boxes) for name, reader in rows.items()}
    print(json.dumps(results, indent=1))
    if not args.no_docs:
        write_section(ROOT / "docs" / "benchmarks.md", report(results, args), START, END)
    return 0


def report(results: Dict[str, dict], args: argparse.Namespace) -> str:
    header = "| reader | page CER | line hmean (P / R) | " + " | ".join(f"CER {k}" for k in LAYOUTS) + " | pages/s |"
    rows = []
    for name, r in results.items():
        speed = "-" if r["pages_per_s"] is None else f"{r['pages_per_s']:.2f}"
        rows.append(f"| {name} | {100 * r['all']['cer']:.2f}% | {r['all']['hmean']:.3f} ({r['all']['precision']:.3f}"
                    f" / {r['all']['recall']:.3f}) | " + " | ".join(f"{100 * r[k]['cer']:.1f}%" for k in LAYOUTS) +
                    f" | {speed} |")
    return "\n".join([
        START, "## Reading whole pages, end to end (CPU)", "",
        f"Command: `python scripts/benchmark_pages.py --pages {args.pages}`  ",
        f"{args.pages} pages of each kind ({', '.join(LAYOUTS)}) in the held-out families "
        f"({', '.join(f[:-1] for f in HELD_OUT_FAMILIES)}), an unseen seed, tilted up to 2 degrees, some blur and "
        "noise. Page CER: edit distance of the reading-ordered text, whitespace normalized. Line hmean: a line "
        "counts when its box matches (IoU >= 0.5) and its text is exact. One page at a time, 2 CPU threads. The row "
        "on the true line boxes: the recognizer alone on crops of each page's true lines in their written order, the part of "
        "the page CER that is recognition's (the rest is detection and reading order).", "",
        header, "|" + "---|" * (4 + len(LAYOUTS)), *rows, END])


if __name__ == "__main__":
    sys.exit(main())
