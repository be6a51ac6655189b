"""Shared by the benchmark and train-then-evaluate scripts: the font split, the bounded `lightning fit` run, and
replacing one script's section of a Markdown report."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import List, Tuple

import torch
import yaml

from lightocr.data import find_fonts

ROOT = Path(__file__).resolve().parents[1]


def split_fonts() -> Tuple[List[str], List[str]]:
    """Pillow's built-in font and the system fonts, split by a fixed rule: every fourth in sorted order is held
    out of training (returned second)."""
    names = sorted({Path(f).name for f in find_fonts()})
    held_out = names[1::4]
    return [n for n in names if n not in held_out], held_out


def bounded_fit(config: str, minutes: float, run_dir: Path, overrides: List[str]) -> dict:
    """``lightning fit --config CONFIG`` as a subprocess (the real command line) bounded by ``max_time``; returns
    the newest ``last.ckpt`` with its step count, the wall time and the resolved config."""
    whole = int(minutes)
    seconds = int(round((minutes - whole) * 60))
    command = [sys.executable, "-m", "lightocr", "fit", "--config", config,
               f"--trainer.max_time=00:00:{whole:02d}:{seconds:02d}", f"--trainer.default_root_dir={run_dir}",
               "--trainer.enable_progress_bar=false", *overrides]
    print(" ".join(command), flush=True)
    start = time.time()
    subprocess.run(command, check=True, cwd=ROOT)
    train_seconds = time.time() - start
    checkpoint = max(run_dir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    steps = torch.load(checkpoint, map_location="cpu", weights_only=True)["global_step"]
    resolved = yaml.safe_load(max(run_dir.rglob("config.yaml"), key=lambda p: p.stat().st_mtime).read_text())
    return dict(checkpoint=checkpoint, steps=steps, train_seconds=train_seconds, config=resolved)


def write_section(path: Path, section: str, start: str, end: str) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) in place of the old one, or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
