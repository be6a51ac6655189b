"""A training sampler that resumes mid-epoch, for every rank."""
from __future__ import annotations

from typing import Iterator, Optional

import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` (one shard per rank, a new seeded order each epoch) that can skip the samples a
    resumed run already trained on in the current epoch.

    Works without a process group too (one replica). Lightning keeps it as it is under DDP, since it already is
    a ``DistributedSampler``. ``skip`` applies to the next iteration only.
    """

    def __init__(self, dataset: Dataset, shuffle: bool = True, seed: int = 0, drop_last: bool = True,
                 skip: int = 0, epoch: int = 0):
        distributed = dist.is_available() and dist.is_initialized()
        super().__init__(dataset, num_replicas=None if distributed else 1, rank=None if distributed else 0,
                         shuffle=shuffle, seed=seed, drop_last=drop_last)
        self.skip = skip
        self.set_epoch(epoch)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        skip, self.skip = self.skip, 0
        return iter(indices[skip:])


def resume_position(trainer) -> Optional[dict]:
    """Epoch and batches already trained in it, read from the trainer's loop progress."""
    if trainer is None or not trainer.training:
        return None
    progress = trainer.fit_loop.epoch_loop.batch_progress.current
    return dict(epoch=trainer.current_epoch, batches=progress.processed)
