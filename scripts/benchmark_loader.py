#!/usr/bin/env python
"""Is the loader fast enough? The rendered and distorted training lines per second of the config's training loader
(its own number of workers), beside the lines per second that the training step consumes, in the same run.

The loader is timed alone (iterating its batches); the training step is timed alone, through a Trainer, on the
loader's first 12 batches held in memory (forward, loss, backward, optimizer step; steps 3-12 timed), so that
neither waits for the other. The ratio should be at least 2:
then the loader keeps ahead of training with room to spare. Printed and written to ``docs/benchmarks.md``.

    python scripts/benchmark_loader.py [--config configs/crnn_mobilenetv3.yaml] [--batches 30]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from _report import ROOT, write_section
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from torch.utils.data import DataLoader

from lightocr.lightning_cli import LightOCRCLI

START, END = "<!-- loader:start -->", "<!-- loader:end -->"


class StepTimes(Callback):
    """Seconds of each training step (forward, loss, backward, optimizer step)."""

    def __init__(self):
        self.seconds, self._start = [], 0.0

    def on_train_batch_start(self, *args) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs/crnn_mobilenetv3.yaml"))
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    cli = LightOCRCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                      args=["--config", args.config, "--trainer.logger=false"], run=False)
    data, task = cli.datamodule, cli.model
    loader = data.train_dataloader()
    batches = iter(loader)
    held = [next(batches) for _ in range(12)]  # workers start; not timed; the training step is timed on these
    start = time.perf_counter()
    lines = 0
    for _, batch in zip(range(args.batches), batches):
        lines += len(batch["labels"] if "labels" in batch else batch["keys"])
    load_rate = lines / (time.perf_counter() - start)

    steps = StepTimes()
    trainer = Trainer(accelerator="cpu", max_steps=12, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, callbacks=[steps])
    trainer.fit(task, train_dataloaders=DataLoader(held, batch_size=None))
    train_rate = sum(len(batch["keys"]) for batch in held[2:]) / sum(steps.seconds[2:])  # as loaded: of all widths
    workers = max(1, data.num_workers)
    print(f"loader: {load_rate:.0f} lines/s with {data.num_workers} worker(s) ({load_rate / workers:.0f} per worker); "
          f"training step: {train_rate:.0f} lines/s; ratio {load_rate / train_rate:.2f}")
    if not args.no_docs:
        write_section(ROOT / "docs/benchmarks.md", "\n".join([
            START, "## Loader against training (CPU)", "",
            f"Command: `python scripts/benchmark_loader.py --config {Path(args.config).relative_to(ROOT)}`", "",
            f"{torch.get_num_threads()} CPU threads. The loader renders and distorts {load_rate:.0f} lines/s with "
            f"{data.num_workers} worker(s) ({load_rate / workers:.0f} per worker); the training step consumes "
            f"{train_rate:.0f} lines/s: ratio **{load_rate / train_rate:.2f}**. Each is timed alone (the loader "
            "iterating its batches, the step on its first batches in memory); in a real run they share the cores.",
            END]),
            START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
