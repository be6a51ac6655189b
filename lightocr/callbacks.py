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


class PredictionSamples(Callback):
    """Log a table of sample predictions after each validation (W&B: image, label, prediction, confidence,
    correct). Reads the first validation batch's ``outputs`` as returned by the task's ``validation_step``."""

    def __init__(self, num_samples: int = 16, key: str = "val/samples"):
        self.num_samples, self.key = num_samples, key
        self._rows: list = []

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._rows = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if trainer.sanity_checking or not outputs or len(self._rows) >= self.num_samples:
            return
        images = ((outputs["images"].float() + 1) * 127.5).clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()
        for image, label, prediction in zip(images, outputs["labels"], outputs["predictions"]):
            if len(self._rows) < self.num_samples:
                self._rows.append((image.squeeze(-1) if image.shape[-1] == 1 else image, label, prediction.text,
                                   round(prediction.confidence, 4), prediction.text == label))

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self._rows or not trainer.is_global_zero:
            return
        from lightning.pytorch.loggers import WandbLogger
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                import wandb
                logger.log_table(self.key, columns=["image", "label", "prediction", "confidence", "correct"],
                                 data=[[wandb.Image(r[0]), *r[1:]] for r in self._rows], step=trainer.global_step)
