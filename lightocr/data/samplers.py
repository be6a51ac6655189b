"""The training sampler: shuffled shards per rank, new samples every epoch, and a resume that continues the
epoch where it stopped, also on another number of processes."""
from typing import Dict, Iterator, Optional, Tuple

import torch
import torch.distributed as dist
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import Dataset, DistributedSampler


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` that yields ``(epoch, index)`` pairs and can skip what a resumed run trained.

    Each epoch has one seeded global order of the indices; rank ``r`` of ``n`` takes every ``n``-th index of it
    from position ``r`` (full batches only, as ``drop_last``). After ``b`` batches of ``s`` samples on ``n``
    ranks, the first ``b * s * n`` positions of the global order are consumed whatever the rank, so a resumed
    epoch drops exactly those and shards the rest over the processes it now has. The epoch travels with each
    index, so that generated sources and augmentations draw new samples every epoch (see ``TextLineDataset``).

    Works without a process group too (one replica). Lightning keeps it under DDP, since it already is a
    ``DistributedSampler``, and calls ``set_epoch`` before every epoch.
    """

    def __init__(self, dataset: Dataset, seed: int = 0, shuffle: bool = True):
        distributed = dist.is_available() and dist.is_initialized()
        super().__init__(dataset, num_replicas=None if distributed else 1, rank=None if distributed else 0,
                         shuffle=shuffle, seed=seed, drop_last=True)
        self._resume: Optional[Tuple[int, int]] = None

    def resume(self, epoch: int, consumed: int) -> None:
        """Skip the first ``consumed`` positions of ``epoch``'s global order (once, and only in that epoch)."""
        self._resume = (epoch, consumed)

    def global_order(self) -> list:
        if not self.shuffle:
            return list(range(len(self.dataset)))
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        return torch.randperm(len(self.dataset), generator=generator).tolist()

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        order = self.global_order()
        if self._resume is not None and self._resume[0] == self.epoch:
            order = order[self._resume[1]:]
        if self._resume is not None and self._resume[0] <= self.epoch:
            self._resume = None
        per_rank = len(order) // self.num_replicas
        return iter([(self.epoch, index) for index in order[self.rank:per_rank * self.num_replicas:self.num_replicas]])

    def __len__(self) -> int:
        return len(self.dataset) // self.num_replicas


def resume_position(trainer, batch_size: int) -> Dict[str, int]:
    """Where training stands in its epoch: the epoch, the samples consumed from its global order (over all
    ranks), and the number of processes. Empty outside fitting."""
    if trainer is None or not trainer.training:
        return {}
    batches = trainer.fit_loop.epoch_loop.batch_progress.current.processed
    return dict(epoch=trainer.current_epoch, samples=batches * batch_size * trainer.world_size,
                world_size=trainer.world_size)


def warn_if_resharded(saved: Dict[str, int], world_size: int) -> None:
    if saved.get("world_size", world_size) != world_size:
        rank_zero_warn(
            f"resuming on {world_size} processes a run saved on {saved['world_size']}: the rest of epoch "
            f"{saved['epoch']} is sharded anew over {world_size} processes; the {saved['samples']} samples already "
            f"trained in it are skipped, none is repeated, but the order of the later batches differs from a run "
            f"that kept {saved['world_size']} processes")
