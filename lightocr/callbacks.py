"""Callbacks shared by every task (``last.ckpt`` and signals: ``lightocr.checkpoints.LastCheckpoint``)."""
import os
from pathlib import Path
from typing import Optional, TextIO

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from .predictor import tsv_line


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


class PredictionWriter(BasePredictionWriter):
    """Write what ``lightning predict`` reads to a file, one ``path<TAB>text<TAB>confidence`` line per image, as
    ``lightocr read`` prints them; unreadable images are named in a warning and left out.

    ``output``: the file (default: ``predictions.tsv`` in the run folder). Under DDP each process writes its
    own share to ``<output>.rank<r>``.
    """

    def __init__(self, output: Optional[str] = None):
        super().__init__(write_interval="batch")
        self.output = output
        self._file: Optional[TextIO] = None
        self.path: Optional[Path] = None
        self.skipped = 0

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        path = Path(self.output or os.path.join(trainer.default_root_dir, "predictions.tsv"))
        if trainer.world_size > 1:
            path = path.with_name(f"{path.name}.rank{trainer.global_rank}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.skipped = path, 0
        self._file = path.open("w", encoding="utf-8")

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx,
                           dataloader_idx=0) -> None:
        for row in prediction:
            self._file.write(tsv_line(row) + "\n")
        for skipped in batch.get("skipped", []):
            self.skipped += 1
            rank_zero_warn(f"not read: {skipped.key}: {skipped.reason}")

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            rank_zero_info(f"predictions: {self.path}" + (f" ({self.skipped} images not read)" if self.skipped else ""))
