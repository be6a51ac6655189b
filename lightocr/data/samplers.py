"""The training sampler: shuffled shards per rank, new samples every epoch, and a resume that continues the
epoch where it stopped, also on another number of processes."""
from typing import Any, Dict, Iterator, Tuple

import torch
import torch.distributed as dist
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset, DistributedSampler


class ResumableSampler(DistributedSampler):
    """``DistributedSampler`` that yields ``(epoch, index)`` pairs, and knows how far training has gone in its data.

    Each data epoch has one seeded global order of the indices; rank ``r`` of ``n`` takes every ``n``-th index of
    it from position ``r``, in full batches. After ``b`` trained batches of ``s`` samples on ``n`` ranks, the first
    ``b * s * n`` positions of the global order are consumed whatever the rank, so a resumed epoch drops exactly
    those and shards the rest over the processes it now has. The epoch travels with each index, so that generated
    sources and augmentations draw new samples every epoch (see ``TextLineDataset``).

    The data epoch is the sampler's own: an iteration continues the current data epoch while a full batch per
    rank is left in it, else starts the next. Lightning's epoch number is not used, since after a restore it
    depends on how the run stopped (a ``max_steps`` stop mid-epoch counts the epoch as done, a Ctrl-C does not,
    and a stop at an epoch's last step resumes into a one-batch epoch). The data module calls ``count_batch``
    for every trained batch. Works without a process group too (one replica).

    With ``pool > 1`` the loader takes ``pool`` batches per rank at a time (``WidthPoolCollator`` regroups their
    samples by width), so the batches trained of a pool are not a prefix of its positions: a position is the
    first position of the current pool plus the batches trained of it, and a resumed pool is loaded again and
    those batches skipped (``skip``, which ``PooledLoader`` applies). A pool never spans two epochs; one larger
    than an epoch is cut to the epoch.
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int = 0, shuffle: bool = True, pool: int = 1):
        distributed = dist.is_available() and dist.is_initialized()
        super().__init__(dataset, num_replicas=None if distributed else 1, rank=None if distributed else 0,
                         shuffle=shuffle, seed=seed, drop_last=True)
        self.batch_size = batch_size
        self.pool = max(1, min(pool, len(dataset) // self.num_replicas // batch_size))
        # positions skipped when the current iteration began; batches trained since (the skipped ones included)
        self.start, self.trained, self.skip = 0, 0, 0
        self._iterated = False

    def set_epoch(self, epoch: int) -> None:
        """Lightning's epoch number is ignored (see the class docstring)."""

    def resume(self, epoch: int, consumed: int, pool_batches: int = 0) -> None:
        """Continue data epoch ``epoch`` at position ``consumed``, ``pool_batches`` batches into the pool there."""
        self.epoch, self.start, self.trained, self._iterated = epoch, consumed, pool_batches, True

    def count_batch(self) -> None:
        self.trained += 1

    @property
    def pool_samples(self) -> int:
        """Positions a pool spans (all ranks together)."""
        return self.pool * self.batch_size * self.num_replicas

    def _epoch_left(self, consumed: int) -> bool:
        return (len(self.dataset) - consumed) // self.num_replicas >= self.batch_size * self.pool

    def _current(self) -> Tuple[int, int, int]:
        """``(epoch, first position of the current pool, batches trained of it)``; a finished epoch is the start
        of the next."""
        consumed = self.start + self.trained // self.pool * self.pool_samples
        pool_batches = self.trained % self.pool
        if pool_batches == 0 and not self._epoch_left(consumed):
            return self.epoch + 1, 0, 0
        return self.epoch, consumed, pool_batches

    def position(self) -> Dict[str, int]:
        """Where training stands: data epoch, the position of its current pool, the batches trained of that pool,
        the positions a pool spans, and the number of processes."""
        epoch, consumed, pool_batches = self._current()
        return dict(epoch=epoch, samples=consumed, pool_batches=pool_batches, pool_samples=self.pool_samples,
                    world_size=self.num_replicas)

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        if self._iterated:
            self.epoch, self.start, self.skip = self._current()
        self._iterated, self.trained = True, self.skip
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(len(self.dataset), generator=generator).tolist()
        else:
            order = list(range(len(self.dataset)))
        order = order[self.start:]
        per_rank = len(order) // self.num_replicas
        return iter([(self.epoch, index) for index in order[self.rank:per_rank * self.num_replicas:self.num_replicas]])

    def __len__(self) -> int:
        return len(self.dataset) // self.num_replicas


class PooledLoader:
    """The batches of a training loader whose items are pools of batches (``WidthPoolCollator``), one batch at a
    time; the first pool after a resume drops the batches its sampler says were trained (``skip``)."""

    def __init__(self, loader: DataLoader):
        self.loader = loader

    @property
    def sampler(self) -> ResumableSampler:
        return self.loader.sampler

    @property
    def dataset(self) -> Dataset:
        return self.loader.dataset

    @property
    def num_workers(self) -> int:
        return self.loader.num_workers

    def __iter__(self) -> Iterator[Any]:
        for number, pool in enumerate(self.loader):
            yield from pool[self.sampler.skip if number == 0 else 0:]  # the sampler has begun its iteration

    def __len__(self) -> int:
        return len(self.loader) * self.sampler.pool


def warn_if_resharded(saved: Dict[str, int], world_size: int) -> None:
    if saved.get("world_size", world_size) != world_size:
        rank_zero_warn(
            f"resuming on {world_size} processes a run saved on {saved['world_size']}: the rest of epoch "
            f"{saved['epoch']} is sharded anew over {world_size} processes; the {saved['samples']} samples already "
            f"trained in it (and the rest of a partly trained pool of batches) are skipped, none is repeated, but "
            f"the order of the later batches differs from a run that kept {saved['world_size']} processes")
