"""Callbacks that DDP child processes import (PYTHONPATH=repo root) to report what each rank saw."""
import json
import os

import torch
from lightning.pytorch import Callback


class DumpRankWeights(Callback):
    """At the end of fit, every rank saves its model weights to ``<folder>/rank<r>.pt``."""

    def __init__(self, folder: str):
        self.folder = folder

    def on_train_end(self, trainer, pl_module):
        os.makedirs(self.folder, exist_ok=True)
        torch.save(pl_module.state_dict(), os.path.join(self.folder, f"rank{trainer.global_rank}.pt"))


class DumpMetrics(Callback):
    """After validation, rank zero writes the reduced metrics to ``path`` as JSON."""

    def __init__(self, path: str):
        self.path = path

    def on_validation_end(self, trainer, pl_module):
        if trainer.is_global_zero and not trainer.sanity_checking:
            with open(self.path, "w") as handle:
                json.dump({k: float(v) for k, v in trainer.callback_metrics.items()}, handle)
