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
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import torch
import yaml
from _report import write_section

from lightocr.cli import load_task
from lightocr.data import SyntheticTextSource, default_augment, find_fonts
from lightocr.ocr import CharErrorRate, WordAccuracy
from lightocr.tasks import read_lines

ROOT = Path(__file__).resolve().parents[1]
EVAL_SEED = 9_000_017
START, END = "<!-- crnn:start -->", "<!-- crnn:end -->"


def split_fonts() -> tuple:
    names = sorted({Path(f).name for f in find_fonts()})
    held_out = names[1::4]
    return [n for n in names if n not in held_out], held_out


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
    for rows, batch in read_lines(task, source, batch_size, require_label=True, augment=default_augment()):
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
    run_dir = Path(args.run_dir)
    minutes = int(args.minutes)
    seconds = int(round((args.minutes - minutes) * 60))
    command = [sys.executable, "-m", "lightocr", "fit", "--config", args.config,
               f"--trainer.max_time=00:00:{minutes:02d}:{seconds:02d}",
               f"--trainer.default_root_dir={run_dir}",
               f"--data.init_args.train_sources={source_yaml(train_fonts, 1_000_000, 0)}",
               f"--data.init_args.val_sources={source_yaml(train_fonts, 1000, 1_000_003)}",
               "--trainer.enable_progress_bar=false", *args.extra]
    print(" ".join(command), flush=True)
    start = time.time()
    subprocess.run(command, check=True, cwd=ROOT)
    train_seconds = time.time() - start
    checkpoint = max(run_dir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    steps = torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"]
    config = yaml.safe_load(max(run_dir.rglob("config.yaml"), key=lambda p: p.stat().st_mtime).read_text())
    batch_size = config["data"]["init_args"]["batch_size"]
    result = evaluate(checkpoint, held_out, args.eval_lines)
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
