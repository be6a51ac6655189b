#!/usr/bin/env python
"""Train the default CRNN config on synthetic lines for a bounded time, then evaluate on held-out fonts.

1. The fonts (Pillow's built-in and the system fonts) are split by a fixed rule: every fourth in sorted order
   is held out. Training and validation render with the other fonts; the evaluation set renders 2,000 lines
   with the held-out fonts only, from a seed that neither training nor validation uses.
2. ``lightning fit --config CONFIG`` runs as a subprocess (the real command line), with ``max_time`` as the
   bound and the data overridden to exclude the held-out fonts.
3. The last checkpoint is read back (``weights_only=True``) and scored: word accuracy under the benchmark
   protocol (case-insensitive, alphanumeric), exact word accuracy, CER; inference throughput at batch 64 on
   32x320 lines. Training throughput comes from the fit's step count and time. The figures are printed and
   written to ``docs/benchmarks.md``.

    python scripts/train_eval_crnn.py [--minutes 30] [--config configs/crnn_mobilenetv3.yaml] [-- extra CLI args]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import List

import torch
from _report import ROOT, bounded_fit, split_fonts, write_section

from lightocr.cli import load_task
from lightocr.data import SyntheticTextSource, default_augment
from lightocr.ocr import CharErrorRate, WordAccuracy
from lightocr.tasks import predict_source

EVAL_SEED = 9_000_017
START, END = "<!-- crnn:start -->", "<!-- crnn:end -->"


def source_yaml(fonts: List[str], size: int, seed: int) -> str:
    return json.dumps([dict(class_path="lightocr.data.SyntheticTextSource",
                            init_args=dict(size=size, seed=seed, font_include=fonts))])


def evaluate(checkpoint: Path, fonts: List[str], lines: int, batch_size: int = 64) -> dict:
    """Score the checkpoint on held-out lines, distorted as training lines are (its own input geometry)."""
    task = load_task(str(checkpoint))
    source = SyntheticTextSource(size=lines, seed=EVAL_SEED, font_include=fonts)
    source.use_charset(task.charset.symbols, task.charset.case_sensitive)
    bench, exact = WordAccuracy("benchmark", charset=task.charset.symbols), WordAccuracy("exact")
    cer = CharErrorRate()
    examples = []
    for rows, batch in predict_source(task, source, batch_size, require_label=True, augment=default_augment()):
        predictions = [r["text"] for r in rows]
        for metric in (bench, exact, cer):
            metric.update(predictions, batch["labels"])
        examples.extend((t, p) for t, p in zip(batch["labels"], predictions) if t != p)
    with torch.inference_mode():
        x = torch.randn(batch_size, task.hparams.in_chans, 32, 320)
        task(x)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            task(x)
            times.append(time.perf_counter() - start)
    return dict(word_acc_bench=bench.compute().item(), word_acc=exact.compute().item(), cer=cer.compute().item(),
                infer_lines_per_s=batch_size / sorted(times)[2], errors=examples[:10])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs/crnn_mobilenetv3.yaml"))
    parser.add_argument("--minutes", type=float, default=30.0, help="training time bound (max_time)")
    parser.add_argument("--run-dir", default=str(ROOT / "runs/train_eval_crnn"))
    parser.add_argument("--eval-lines", type=int, default=2000)
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("extra", nargs="*", help="more LightningCLI arguments, after --")
    args = parser.parse_args()

    train_fonts, held_out = split_fonts()
    print(f"training fonts: {train_fonts}\nheld-out fonts: {held_out}", flush=True)
    fit = bounded_fit(args.config, args.minutes, Path(args.run_dir), [
        f"--data.init_args.train_sources={source_yaml(train_fonts, 1_000_000, 0)}",
        f"--data.init_args.val_sources={source_yaml(train_fonts, 1000, 1_000_003)}", *args.extra])
    steps, train_seconds = fit["steps"], fit["train_seconds"]
    batch_size = fit["config"]["data"]["init_args"]["batch_size"]
    result = evaluate(fit["checkpoint"], held_out, args.eval_lines)
    result.update(steps=steps, train_seconds=round(train_seconds), train_lines_per_s=steps * batch_size / train_seconds)
    print(json.dumps(result, indent=2))
    if not args.no_docs:
        section = "\n".join([
            START, "## CRNN on synthetic text (CPU)", "",
            f"Command: `python scripts/train_eval_crnn.py --minutes {args.minutes:g} {' '.join(args.extra)}`".rstrip(),
            "", f"Config `{Path(args.config).relative_to(ROOT)}`, {torch.get_num_threads()} CPU threads. "
            f"Evaluation: {args.eval_lines} lines rendered with held-out fonts {held_out} and an unseen seed.", "",
            "| figure | value |", "|---|---|",
            f"| word accuracy, benchmark protocol | {100 * result['word_acc_bench']:.2f}% |",
            f"| word accuracy, exact | {100 * result['word_acc']:.2f}% |",
            f"| character error rate | {100 * result['cer']:.2f}% |",
            f"| training steps / time | {steps} / {train_seconds / 60:.1f} min (wall, start-up and validation included) |",
            f"| training throughput | {result['train_lines_per_s']:.0f} lines/s |",
            f"| inference throughput (batch 64, 32x320) | {result['infer_lines_per_s']:.0f} lines/s |",
            END])
        write_section(ROOT / "docs/benchmarks.md", section, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
