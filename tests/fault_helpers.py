"""Callbacks that `lightning fit` subprocesses of the fault tests load (PYTHONPATH=repo root): they hold a run at
a step so that the test can signal or kill it there, and record what each step trained."""
import json
import os
import time

from lightning.pytorch import Callback


class PauseAt(Callback):
    """After training step ``step`` (``global_step == step``), write ``<marker>.rank<r>`` holding this process's id
    and wait, up to ``timeout`` seconds, until the test deletes it: the test sends its signal meanwhile."""

    def __init__(self, step: int, marker: str, timeout: float = 120.0):
        self.step, self.marker, self.timeout = step, marker, timeout

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step != self.step:
            return
        path = f"{self.marker}.rank{trainer.global_rank}"
        with open(path, "w") as handle:
            handle.write(str(os.getpid()))
        deadline = time.monotonic() + self.timeout
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)


class TrainedKeys(Callback):
    """Append ``{"step", "keys"}`` to ``path`` (JSON lines) for every training step of rank 0, before it runs."""

    def __init__(self, path: str):
        self.path = path

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.is_global_zero:
            with open(self.path, "a") as handle:
                handle.write(json.dumps(dict(step=trainer.global_step, keys=list(batch["keys"]))) + "\n")


class ValidationCounts(Callback):
    """Before the task computes its validation metrics, each rank writes how many lines its own metric states
    hold (``<folder>/rank<r>.json``), so that a test can see what each rank read."""

    def __init__(self, folder: str):
        self.folder = folder

    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        os.makedirs(self.folder, exist_ok=True)
        word_acc = pl_module.eval_metrics["val"]["word_acc"]
        with open(os.path.join(self.folder, f"rank{trainer.global_rank}.json"), "w") as handle:
            json.dump(dict(lines=float(word_acc.denominator), correct=float(word_acc.numerator),
                           loss_weight=float(pl_module.eval_losses["val"].weight)), handle)


def read_keys(path) -> dict:
    """``{step: keys}`` of a TrainedKeys file; a step logged twice (a run and its resume) keeps the later."""
    steps = {}
    with open(path) as handle:
        for line in handle:
            record = json.loads(line)
            steps[record["step"]] = record["keys"]
    return steps


class PoisonImages(Callback):
    """A NaN pixel in the batches of training steps ``steps`` (``global_step`` before the step), on ``rank`` only
    (None: every rank): what an exploding input or a broken sample does to the loss."""

    def __init__(self, steps, rank=None):
        self.steps, self.rank = set(steps), rank

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step in self.steps and self.rank in (None, trainer.global_rank) and len(batch["images"]):
            batch["images"][0, 0, 0, 0] = float("nan")
