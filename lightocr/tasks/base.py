"""What every task shares: the optimizer and learning-rate schedule, set from plain config values so that
``load_from_checkpoint`` rebuilds a task from its saved hyperparameters alone."""
from __future__ import annotations

import math

import torch
from lightning.pytorch import LightningModule

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULERS = ("cosine", "constant")


class BaseTask(LightningModule):
    """Optimizer (AdamW by default; no weight decay on norms and biases) and a per-step schedule:
    linear warmup over ``warmup_steps``, then cosine decay to ``min_lr_ratio * lr`` at the last step.
    ``channels_last`` keeps weights and input images in NHWC memory format."""

    def __init__(
            self,
            optimizer: str = "adamw",
            lr: float = 1e-3,
            weight_decay: float = 0.05,
            momentum: float = 0.9,
            scheduler: str = "cosine",
            warmup_steps: int = 200,
            min_lr_ratio: float = 0.01,
            channels_last: bool = False,
    ):
        super().__init__()
        self.channels_last = channels_last
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
        self.optimizer_name, self.lr, self.weight_decay, self.momentum = optimizer, lr, weight_decay, momentum
        self.scheduler_name, self.warmup_steps, self.min_lr_ratio = scheduler, warmup_steps, min_lr_ratio

    def setup(self, stage: str) -> None:
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def prepare_images(self, images: torch.Tensor) -> torch.Tensor:
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images

    def configure_optimizers(self):
        decay, no_decay = [], []
        for parameter in self.parameters():
            if parameter.requires_grad:
                (no_decay if parameter.ndim <= 1 else decay).append(parameter)
        groups = [dict(params=decay, weight_decay=self.weight_decay), dict(params=no_decay, weight_decay=0.0)]
        if self.optimizer_name == "sgd":
            optimizer = torch.optim.SGD(groups, lr=self.lr, momentum=self.momentum, nesterov=True)
        else:
            optimizer_class = torch.optim.AdamW if self.optimizer_name == "adamw" else torch.optim.Adam
            optimizer = optimizer_class(groups, lr=self.lr)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, self.lr_factor_fn(total))
        return dict(optimizer=optimizer, lr_scheduler=dict(scheduler=schedule, interval="step"))

    def lr_factor_fn(self, total_steps: int):
        warmup, floor, cosine = self.warmup_steps, self.min_lr_ratio, self.scheduler_name == "cosine"

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            if not cosine:
                return 1.0
            progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        return factor
