"""The base of the data modules: a training position that travels in the checkpoint (a resumed run continues
the epoch where it stopped), the loaders built one way for every task, and the images of ``predict``."""
import ctypes
import multiprocessing
import os
import signal
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional

import cv2
from lightning.pytorch import LightningDataModule
from lightning.pytorch.trainer.states import TrainerFn
from torch.utils.data import DataLoader, Dataset

from ..errors import ConfigError
from .samplers import ResumableSampler, warn_if_resharded
from .sources import ImageFilesSource


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _prepare_worker(worker_id: int) -> None:
    """Loader workers render and augment with OpenCV, whose own thread pool would compete with training; on Linux
    they die with the process that started them (``PR_SET_PDEATHSIG``). Without that, a worker of a run killed by
    SIGKILL or the OOM killer lives on under init holding its memory: PyTorch's watchdog ends its loop, but its exit
    then waits forever to flush prefetched batches into a pipe that nobody reads. The signal comes when the thread
    that started the loader's workers ends: Lightning starts them in the main thread."""
    cv2.setNumThreads(1)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:  # it died before the line above
            os._exit(1)


class BaseDataModule(LightningDataModule):
    """A data module whose training position travels in the checkpoint: its training loader draws from
    ``training_sampler``, every trained batch is counted, and a resumed run continues the epoch where it stopped."""

    def __init__(self, batch_size: int, num_workers: int, predict_paths: Optional[List[str]]):
        super().__init__()
        self.batch_size, self.num_workers, self.predict_paths = batch_size, num_workers, predict_paths or []
        # OpenCV's thread pool gains nothing on lines and glyphs, and once started in this process it hangs the
        # loader workers forked after it (seen: an epoch drawn here, then one with workers)
        cv2.setNumThreads(1)
        self._resume_from: Dict[str, int] = {}
        self._sampler: Optional[ResumableSampler] = None

    def training_sampler(self, dataset: Dataset, batch_size: int, seed: int, pool: int = 1) -> ResumableSampler:
        sampler = self._sampler = ResumableSampler(dataset, batch_size, seed=seed, pool=pool)
        if sampler.num_samples < batch_size:  # every batch is whole: not one would be trained
            raise ConfigError(f"{len(dataset)} training samples ({sampler.num_samples} per process) make no whole "
                              f"batch of batch_size={batch_size}: lower the data module's batch_size or give more "
                              f"samples")
        if self._resume_from:
            saved, self._resume_from = self._resume_from, {}
            warn_if_resharded(saved, sampler.num_replicas)
            samples, pool_batches = saved["samples"], saved.get("pool_batches", 0)
            if pool_batches and (saved["world_size"], saved["pool_samples"]) != (sampler.num_replicas,
                                                                                  sampler.pool_samples):
                # a partly trained pool is formed otherwise on other processes or pools: its rest is left out
                samples, pool_batches = samples + saved["pool_samples"], 0
            sampler.resume(saved["epoch"], samples, pool_batches)
            # the sampler skips what was trained; Lightning cannot see that and would warn otherwise
            warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before")
        return sampler

    def loader(self, dataset: Dataset, collate: Callable, sampler: Optional[ResumableSampler] = None,
               pool: int = 1) -> DataLoader:
        """Training loaders have a sampler (shuffled shards, full batches, or pools of ``pool`` batches);
        evaluation and prediction ones run in order."""
        return DataLoader(dataset, batch_size=self.batch_size * pool, sampler=sampler, drop_last=sampler is not None,
                          num_workers=self.num_workers, collate_fn=collate, persistent_workers=self.num_workers > 0,
                          worker_init_fn=_prepare_worker)

    def predict_images(self) -> ImageFilesSource:
        """The images of ``predict_paths``; ``ConfigError`` when there are none."""
        if not self.predict_paths:
            raise ConfigError("nothing to predict: set data.init_args.predict_paths to image files or folders")
        source = ImageFilesSource(self.predict_paths)
        if len(source) == 0:
            raise ConfigError(f"no images found in data.init_args.predict_paths={self.predict_paths}")
        return source

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        if self._sampler is not None and self.trainer is not None and self.trainer.training:
            self._sampler.count_batch()
        return batch

    def state_dict(self) -> Dict[str, int]:
        """The training position, in every checkpoint of a fit: also those written during its validations
        (``trainer.training`` is false then), which a run killed between two validations resumes from."""
        if self._sampler is None or self.trainer is None or self.trainer.state.fn != TrainerFn.FITTING:
            return {}
        return self._sampler.position()

    def load_state_dict(self, state_dict: Dict[str, int]) -> None:
        self._resume_from = dict(state_dict) if "samples" in state_dict else {}
