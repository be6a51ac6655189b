#!/usr/bin/env python
"""Training throughput of the CRNN config on this machine: 1 vs 2 DDP processes, 32-true vs bf16-mixed.

Each setting runs ``lightning fit --config CONFIG`` (the real command line) for ``--steps`` steps without
validation or checkpoints; a callback times the steps after ``--warmup`` on rank zero. Lines/s count every
rank's batch. The table goes to ``docs/benchmarks.md``.

    python scripts/benchmark_training.py [--steps 60] [--config configs/crnn_mobilenetv3.yaml]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lightning.pytorch import Callback

from _report import write_section

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- training:start -->", "<!-- training:end -->"
SETTINGS = [
    ("1 process, 32-true", dict(devices=1, precision="32-true")),
    ("1 process, bf16-mixed", dict(devices=1, precision="bf16-mixed")),
    ("2 DDP processes (gloo), 32-true", dict(devices=2, precision="32-true")),
]


class StepTimer(Callback):
    """Rank zero writes the seconds between the end of step ``warmup`` and the end of the last step."""

    def __init__(self, path: str, warmup: int):
        self.path, self.warmup, self.start = path, warmup, None

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.warmup:
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:
            Path(self.path).write_text(json.dumps(dict(
                seconds=time.perf_counter() - self.start, steps=trainer.global_step - self.warmup,
                world_size=trainer.world_size)))


def measure(config: str, steps: int, warmup: int, devices: int, precision: str, batch_size: int,
            package_root: Path = ROOT) -> dict:
    """Lines/s of ``lightning fit`` with one setting; ``package_root``: the lightocr tree to run (another commit's,
    checked out, for a before-and-after comparison)."""
    with tempfile.TemporaryDirectory() as run:
        result_path = Path(run) / "timing.json"
        callbacks = json.dumps([dict(class_path="benchmark_training.StepTimer",
                                     init_args=dict(path=str(result_path), warmup=warmup))])
        command = [sys.executable, "-m", "lightocr", "fit", "--config", config, f"--trainer.max_steps={steps}",
                   "--trainer.limit_val_batches=0", "--trainer.logger=false", "--trainer.enable_checkpointing=false",
                   "--trainer.enable_progress_bar=false", f"--trainer.callbacks={callbacks}",
                   f"--trainer.default_root_dir={run}", "--trainer.accelerator=cpu", f"--trainer.devices={devices}",
                   f"--trainer.precision={precision}", f"--data.init_args.batch_size={batch_size}",
                   *(["--trainer.strategy=ddp"] if devices > 1 else [])]
        threads = max(1, (os.cpu_count() or 1) // devices)  # one core per process: no oversubscription
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "scripts"), str(package_root),
                                                           os.environ.get("PYTHONPATH", "")]),
                   OMP_NUM_THREADS=str(threads), WANDB_MODE="disabled")
        subprocess.run(command, check=True, cwd=run, env=env, capture_output=True)
        timing = json.loads(result_path.read_text())
    timing["lines_per_s"] = timing["steps"] * batch_size * timing["world_size"] / timing["seconds"]
    return timing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs/crnn_mobilenetv3.yaml"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64, help="per process")
    args = parser.parse_args()
    rows = ["| setting | lines/s | ratio to the first |", "|---|---|---|"]
    baseline = None
    for name, setting in SETTINGS:
        timing = measure(args.config, args.steps, args.warmup, batch_size=args.batch_size, **setting)
        baseline = baseline or timing["lines_per_s"]
        rows.append(f"| {name} | {timing['lines_per_s']:.0f} | {timing['lines_per_s'] / baseline:.2f} |")
        print(rows[-1], flush=True)
    section = "\n".join([
        START, "## Training throughput: DDP and mixed precision (CPU)", "",
        f"Command: `python scripts/benchmark_training.py --steps {args.steps}`  ",
        f"Config `{Path(args.config).relative_to(ROOT)}`, batch {args.batch_size} per process, {os.cpu_count()} "
        f"cores (one thread per process under DDP); steps {args.warmup + 1}-{args.steps} timed, no validation.", "",
        *rows, END])
    write_section(ROOT / "docs/benchmarks.md", section, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
