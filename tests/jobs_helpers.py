"""Callbacks that DDP child processes import (PYTHONPATH=repo root) to report what each rank saw."""
import json
import os

import torch
from lightning.pytorch import Callback

from lightocr.data import SyntheticTextSource


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


class UnreadableOnRank(SyntheticTextSource):
    """Synthetic lines that one DDP rank cannot read: every sample it loads fails, so each of its batches has
    nothing usable, while the other ranks train normally."""

    def __init__(self, bad_rank: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.bad_rank = bad_rank

    def load(self, index: int, epoch: int = 0):
        import torch.distributed as dist
        if dist.is_initialized() and dist.get_rank() == self.bad_rank:
            raise OSError(f"unreadable on rank {self.bad_rank}")
        return super().load(index, epoch)
