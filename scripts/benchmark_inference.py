#!/usr/bin/env python
"""Inference speed of a trained recognizer, engine beside engine on the same rendered lines, as ratios to PyTorch
eager in the same run, with the word accuracy of each.

The lines: real English words in the fonts that ``train_eval_crnn.py`` holds out of training (STIX, Fira Sans,
IBM Plex Mono), distorted as training lines are. Each engine reads them from decoded images to text (its own
preprocessing and decoding included), one line at a time (batch 1) and in batches of 64:

- PyTorch eager: the checkpoint's network as loaded, NCHW;
- PyTorch, BatchNorm folded into the convolutions and channels_last (``lightocr read``'s default path);
- ``torch.compile`` of that (compiled and warmed up before timing);
- ONNX Runtime, float32 (``lightocr export``), and int8 (dynamic quantization, ``lightocr export --int8``);
- RapidOCR's PP-OCRv4 mobile recognizer (``rapidocr-onnxruntime``, when installed): its own preprocessing
  (48x320 lines), one line at a time as its API takes them. Its word accuracy is on the same protocol
  (case-insensitive, alphanumeric) but its model was trained on other data for Chinese and English.

Every engine gets the same number of threads (``--threads``; RapidOCR uses its default, all cores).

    python scripts/benchmark_inference.py --ckpt runs/train_eval_crnn/version_N/checkpoints/last.ckpt
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import torch
from _report import HELD_OUT_FAMILIES, ROOT, write_section
from train_eval_crnn import EVAL_SEED

from lightocr.data import SyntheticTextSource, default_augment
from lightocr.data.transforms import augment_line
from lightocr.export import export_task, quantize_int8
from lightocr.inference import optimize_for_inference
from lightocr.ocr import WordAccuracy
from lightocr.predictor import open_predictor
from lightocr.tasks import load_task

START, END = "<!-- inference:start -->", "<!-- inference:end -->"


def rendered_lines(count: int):
    """``count`` held-out lines (PIL images, distorted) and their texts."""
    source = SyntheticTextSource(size=count, seed=EVAL_SEED + 5, font_include=list(HELD_OUT_FAMILIES),
                                 lexicon_ratio=1.0, number_ratio=0.0)
    augment = default_augment()
    images, texts = [], []
    for index in range(count):
        image, text, _ = source.load(index)
        images.append(augment_line(augment, image, index))
        texts.append(text)
    return images, texts


def lightocr_reader(predictor) -> Callable[[List], List[str]]:
    """A function from a list of images to their texts, through a lightocr predictor (either engine)."""
    def read(images: List) -> List[str]:
        return [row["text"] for row in predictor(images, batch_size=len(images))]
    return read


def rapidocr_reader():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        return None
    engine = RapidOCR()

    def read(images: List) -> List[str]:
        texts = []
        for image in images:  # its API: one BGR array at a time
            result, _ = engine(np.asarray(image.convert("RGB"))[:, :, ::-1], use_det=False, use_cls=False,
                               use_rec=True)
            texts.append(result[0][0] if result else "")
        return texts
    return read


def lines_per_second(read: Callable[[List], List[str]], images: List, batch_size: int, repeats: int) -> float:
    """Best of ``repeats`` passes over ``images`` in batches of ``batch_size`` (after one warm-up batch)."""
    read(images[:batch_size])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, len(images), batch_size):
            read(images[i:i + batch_size])
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def word_accuracy(read: Callable[[List], List[str]], images: List, texts: List[str], charset) -> float:
    metric = WordAccuracy("benchmark", charset=charset)
    for i in range(0, len(images), 64):
        metric.update(read(images[i:i + 64]), texts[i:i + 64])
    return float(metric.compute())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a text-recognition checkpoint")
    parser.add_argument("--lines", type=int, default=512, help="lines for batch 64 and for accuracy")
    parser.add_argument("--single-lines", type=int, default=200, help="lines read one at a time")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-compile", action="store_true", help="leave out torch.compile (slow to compile)")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    images, texts = rendered_lines(args.lines)
    eager = load_task(args.ckpt)  # the network as loaded from the checkpoint, in NCHW
    charset = eager.charset.symbols
    readers: Dict[str, Callable] = {"PyTorch eager": lightocr_reader(eager.predictor())}
    optimized = optimize_for_inference(load_task(args.ckpt))
    readers["PyTorch, BN folded + channels_last"] = lightocr_reader(optimized.predictor())
    if not args.no_compile:
        compiled = optimize_for_inference(load_task(args.ckpt), compile=True)
        readers["torch.compile"] = lightocr_reader(compiled.predictor())
    with tempfile.TemporaryDirectory() as folder:
        fp32 = export_task(load_task(args.ckpt), Path(folder) / "model.onnx")
        int8 = quantize_int8(fp32, Path(folder) / "model.int8.onnx")
        for name, path in (("ONNX Runtime float32", fp32), ("ONNX Runtime int8", int8)):
            readers[name] = lightocr_reader(open_predictor(path, threads=args.threads))
    rapid = rapidocr_reader()
    if rapid is not None:
        readers["RapidOCR PP-OCRv4 mobile (its API)"] = rapid

    rows = []
    for name, read in readers.items():
        single = lines_per_second(read, images[:args.single_lines], 1, args.repeats)
        batched = lines_per_second(read, images, 64, args.repeats) if "RapidOCR" not in name else None
        accuracy = word_accuracy(read, images, texts, charset)
        rows.append((name, single, batched, accuracy))
        print(f"{name}: batch 1 {single:.1f} lines/s, batch 64 {batched or float('nan'):.1f} lines/s, "
              f"word accuracy {100 * accuracy:.2f}%", flush=True)
    eager_single, eager_batched = rows[0][1], rows[0][2]
    table = ["| engine | batch 1 lines/s | ratio | batch 64 lines/s | ratio | word accuracy |",
             "|---|---|---|---|---|---|"]
    for name, single, batched, accuracy in rows:
        batched_cells = (f"{batched:.0f} | {batched / eager_batched:.2f}x" if batched is not None
                         else "- (one line at a time) | -")
        table.append(f"| {name} | {single:.0f} | {single / eager_single:.2f}x | {batched_cells} | "
                     f"{100 * accuracy:.2f}% |")
    print("\n".join(table))
    if not args.no_docs:
        checkpoint = Path(args.ckpt).resolve()
        shown = checkpoint.relative_to(ROOT) if checkpoint.is_relative_to(ROOT) else checkpoint
        section = "\n".join([
            START, "## Inference engines side by side (CPU)", "",
            f"Command: `python scripts/benchmark_inference.py --ckpt {shown} --repeats {args.repeats}` "
            f"({args.threads} threads; the "
            f"checkpoint of the 30-minute run above). {args.lines} held-out lines "
            f"({', '.join(f[:-1] for f in HELD_OUT_FAMILIES)} fonts, real words, distorted), "
            f"{args.single_lines} of them one at a time; from decoded images to "
            "text, preprocessing and decoding included; best of "
            f"{args.repeats} passes. Ratios are to PyTorch eager in the same run.", "", *table, END])
        write_section(ROOT / "docs/benchmarks.md", section, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
