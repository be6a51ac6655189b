"""Callbacks shared by every task."""
from __future__ import annotations

import os

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info


class LastCheckpointOnExit(Callback):
    """Write ``last.ckpt`` when fitting ends for any reason: ``max_steps``, ``max_time``, or Ctrl-C.

    ``ModelCheckpoint(save_last=True)`` writes it only when it saves a checkpoint, which a run stopped between
    validations would miss. The file goes to the ``ModelCheckpoint`` folder (or ``<log dir>/checkpoints``).
    """

    def _save(self, trainer: Trainer) -> None:
        if trainer.global_step == 0:
            return
        folder = getattr(trainer.checkpoint_callback, "dirpath", None) or os.path.join(
            trainer.log_dir or trainer.default_root_dir, "checkpoints")
        path = os.path.join(folder, "last.ckpt")
        trainer.save_checkpoint(path)
        rank_zero_info(f"last checkpoint (step {trainer.global_step}): {path}")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._save(trainer)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            self._save(trainer)
