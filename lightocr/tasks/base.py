"""What every task shares: the optimizer and learning-rate schedule, set from plain config values so that
``load_from_checkpoint`` rebuilds a task from its saved hyperparameters alone; the training and evaluation
steps around each task's own loss and metrics; the bookkeeping of bad samples and non-finite steps; and the
contract with export and reading (``export_graph``, ``export_metadata``, ``predictor``)."""
from __future__ import annotations

import logging
import math
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.distributed as dist
from lightning.pytorch import LightningModule
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from lightning.pytorch.utilities.rank_zero import rank_prefixed_message
from torch import nn
from torchmetrics import MeanMetric

from ..checkpoints import plain_value
from ..data.samples import SKIP_KINDS, SkippedSample
from ..errors import CheckpointError, NonFiniteTrainingError
from ..predictor import Predictor
from .registry import class_path, import_object, task_of_class
from .weights import START_SETTINGS, STARTED_FROM

if TYPE_CHECKING:
    from ..export import ExportGraph

log = logging.getLogger(__name__)
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULERS = ("cosine", "constant")
STAGES = ("train", "val", "test")
STARTED_FROM_INIT = "init_from"


class BaseTask(LightningModule):
    """The base of every task. A task implements ``usable`` (a batch's usable samples, the bad ones counted),
    ``training_loss``, ``evaluation_step`` (its metrics in ``eval_metrics[stage]``, named ``<stage>/<name>``; the
    loss in ``eval_losses[stage]``) with ``score_metric`` (the one ``val/score`` copies for checkpointing), and
    ``export_graph`` / ``export_metadata`` (what export writes and its predictor reads); its ``TaskSpec`` names it
    (``lightocr.tasks.registry``).

    Optimizer (AdamW by default; no weight decay on norms and biases) and a per-step schedule:
    linear warmup over ``warmup_steps``, then cosine decay to ``min_lr_ratio * lr`` at the last step, or at the
    end of ``trainer.max_time`` when the time runs out first (``lr_factor_fn``).
    ``channels_last`` keeps weights and input images in NHWC memory format.

    Bad samples (skipped by the data side, or refused by the task) are counted per stage and kind, summed over
    DDP ranks, logged as ``data/skipped_<stage>_<kind>`` and, for training, carried across resume; each kind is
    reported once with examples. A training batch with no usable sample still takes a step with a zero loss
    (``empty_batch_loss``), so that DDP ranks stay in step.

    A step whose loss or gradients are not finite (NaN or inf) is skipped: no weight moves and the BatchNorm
    statistics its forward pass changed are put back; it is counted as ``train/skipped_nonfinite`` (carried
    across resume) and reported with its batch's sample keys. After ``max_nonfinite_steps`` such steps in a row
    the run stops with ``NonFiniteTrainingError``. With ``16-mixed`` the gradient scaler keeps its own rule for
    overflowing gradients (skip the step, lower the scale), which is not counted; a non-finite loss is. Under
    DDP the processes decide together. A checkpoint with non-finite weights is never written.
    """

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
            max_nonfinite_steps: int = 10,
            init_from: Optional[str] = None,
    ):
        super().__init__()
        self.init_from, self.started_from = init_from, {}
        if max_nonfinite_steps < 1:
            raise ValueError(f"max_nonfinite_steps must be at least 1, got {max_nonfinite_steps}")
        self.max_nonfinite_steps = max_nonfinite_steps
        self.channels_last = channels_last
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {scheduler!r}")
        self.optimizer_name, self.lr, self.weight_decay, self.momentum = optimizer, lr, weight_decay, momentum
        self.scheduler_name, self.warmup_steps, self.min_lr_ratio = scheduler, warmup_steps, min_lr_ratio
        self.skip_counts = {stage: torch.zeros(len(SKIP_KINDS), dtype=torch.float64) for stage in STAGES}
        self.skip_totals = torch.zeros(len(SKIP_KINDS), dtype=torch.float64)  # training, all ranks, all runs
        self._carried = torch.zeros(len(SKIP_KINDS), dtype=torch.float64)  # from the checkpoint resumed
        self._reported_kinds: set = set()
        self.nonfinite_total, self._nonfinite_in_a_row = 0, 0
        self._loss_finite: Optional[torch.Tensor] = None
        self._step_keys: List[str] = []
        self._buffers_before: Optional[List[torch.Tensor]] = None
        self.eval_losses = nn.ModuleDict({stage: MeanMetric() for stage in ("val", "test")})
        self._predicting: Optional[Predictor] = None

    def setup(self, stage: str) -> None:
        if stage == "fit" and self.init_from and STARTED_FROM_INIT not in self.started_from:
            self.start_from(self.init_from)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    # starting from weights --------------------------------------------------------------------------
    def head_rows(self, trained_hparams: Dict[str, Any]) -> Optional[Tuple[str, List[str], List[str], str]]:
        """``(state-dict prefix, this head's labels, the trained head's labels, noun)`` of the layers with one row
        per output label, which ``init_from`` maps by label; None: the model is carried whole."""
        return None

    def start_from(self, checkpoint: str) -> None:
        """Load a trained model of the same task (``init_from``): its head rows mapped by label (``head_rows``),
        everything else whole; says what was carried, added and dropped. A file that is not a checkpoint, or a
        checkpoint of another task, raises ``CheckpointError`` naming what it is."""
        from .registry import read_task_checkpoint
        from .weights import carry_weights

        state, theirs, _ = read_task_checkpoint(checkpoint, "init_from ")
        ours = task_of_class(type(self))
        if theirs.name != ours.name:
            raise CheckpointError(f"init_from {checkpoint} is a {theirs.name} checkpoint; this run trains "
                                  f"{ours.name}: start from a {ours.name} checkpoint")
        message, warning = carry_weights(self, state["state_dict"], checkpoint,
                                         self.head_rows(state["hyper_parameters"]))
        rank_zero_info(f"init_from: {message}")
        if warning:
            rank_zero_warn(f"init_from: {warning}")
        self.started_from[STARTED_FROM_INIT] = checkpoint

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
        timer = next((c for c in self.trainer.callbacks if isinstance(c, Timer)), None)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, self.lr_factor_fn(total, timer))
        return dict(optimizer=optimizer, lr_scheduler=dict(scheduler=schedule, interval="step"))

    def lr_factor_fn(self, total_steps: int, timer: Optional[Timer] = None) -> Callable[[int], float]:
        """The learning-rate factor at a step. The schedule follows the share of the run done: steps of
        ``total_steps``, or, when ``trainer.max_time`` bounds the run (Lightning's ``Timer``), the elapsed share of
        that time if it is further along, so that a time-bound run ends with its rate decayed on any machine.
        Warmup over ``warmup_steps`` (the same share of a time-bound run), then cosine decay to ``min_lr_ratio``."""
        warmup, floor, cosine = self.warmup_steps, self.min_lr_ratio, self.scheduler_name == "cosine"

        def elapsed_share() -> float:
            elapsed = timer.time_elapsed()
            share = elapsed / max(elapsed + timer.time_remaining(), 1e-9)
            if self._trainer is not None and self.trainer.world_size > 1:
                # rank 0's clock for every rank: DDP averages gradients, not weights, so ranks that stepped with
                # rates of their own clocks would drift apart
                share = self.trainer.strategy.broadcast(share)
            return share

        def factor(step: int) -> float:
            position = float(step)  # in steps; a time-bound run is as far as its elapsed share of the time
            if timer is not None and timer.time_remaining() is not None:
                position = max(position, elapsed_share() * total_steps - 1)
            if position < warmup:
                return (position + 1) / warmup
            if not cosine:
                return 1.0
            progress = min(1.0, (position - warmup) / max(1, total_steps - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        return factor

    # non-finite steps -------------------------------------------------------------------------------
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Note the batch's sample keys and keep the buffers (BatchNorm statistics) as they were before the
        forward pass, to put them back if the step is skipped."""
        if self._loss_finite is None:  # the first batch of an optimizer step (several with gradient accumulation)
            buffers = list(self.buffers())
            if self._buffers_before is None or len(self._buffers_before) != len(buffers):
                self._buffers_before = [b.detach().clone() for b in buffers]
            else:
                for saved, buffer in zip(self._buffers_before, buffers):
                    saved.copy_(buffer)
            self._step_keys = []
        self._step_keys += list(batch.get("keys", [])) if isinstance(batch, dict) else []

    def on_before_backward(self, loss: torch.Tensor) -> None:
        finite = torch.isfinite(loss.detach()).all()
        self._loss_finite = finite if self._loss_finite is None else self._loss_finite & finite

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Skip the update of a step whose loss or gradients are not finite (see the class docstring)."""
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        loss_finite = self._loss_finite if self._loss_finite is not None else torch.tensor(True)
        self._loss_finite = None
        bad = ~loss_finite.to(self.device)
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        grads = [p.grad for p in parameters if p.grad is not None]
        if scaler is None and grads:  # with a scaler, overflowing gradients are the scaler's to skip
            bad = bad | ~torch.isfinite(torch.stack(torch._foreach_norm(grads)).sum())
        if self.trainer.world_size > 1 and dist.is_available() and dist.is_initialized():
            bad = bad.float()
            dist.all_reduce(bad, op=dist.ReduceOp.MAX)
        if not bool(bad):  # the one host sync of a finite step
            self._nonfinite_in_a_row = 0
            return
        for parameter in parameters:
            parameter.grad = None  # the optimizer leaves a parameter without a gradient untouched
        with torch.no_grad():
            for saved, buffer in zip(self._buffers_before or [], self.buffers()):
                buffer.copy_(saved)
        self.nonfinite_total += 1
        self._nonfinite_in_a_row += 1
        own_loss_bad = not bool(loss_finite)
        what = (f"non-finite loss in the batch of samples {self._step_keys[:8]}" if own_loss_bad
                else "non-finite gradients (or a non-finite loss on another process)")
        rank_zero_warn(f"step {self.trainer.global_step} skipped: {what}; {self._nonfinite_in_a_row} in a row, "
                       f"{self.nonfinite_total} in all (train/skipped_nonfinite)")
        if own_loss_bad and not self.trainer.is_global_zero:
            log.warning(rank_prefixed_message(f"step {self.trainer.global_step} skipped: {what}", self.global_rank))
        self.log("train/skipped_nonfinite", float(self.nonfinite_total), rank_zero_only=True)
        if self._nonfinite_in_a_row >= self.max_nonfinite_steps:
            raise NonFiniteTrainingError(
                f"{self._nonfinite_in_a_row} steps in a row had a non-finite loss or gradients (the last at step "
                f"{self.trainer.global_step}, samples {self._step_keys[:8]}): training stopped with the weights of "
                f"the last finite step. Lower the learning rate, clip gradients (trainer.gradient_clip_val), check "
                f"the data, or raise model.init_args.max_nonfinite_steps")

    # bad samples ------------------------------------------------------------------------------------
    def on_error_policy(self) -> str:
        """The data module's ``on_error`` (``skip`` without one)."""
        return getattr(getattr(self._trainer, "datamodule", None), "on_error", "skip")

    def count_skipped(self, stage: str, kind: str, examples: List[str]) -> None:
        self.skip_counts[stage][SKIP_KINDS.index(kind)] += len(examples)
        if kind not in self._reported_kinds:
            self._reported_kinds.add(kind)
            rank_zero_warn(f"skipping samples ({kind}); counted as data/skipped_{stage}_{kind}. First: {examples[:3]}")

    def count_batch_skips(self, batch: Dict[str, Any], stage: str) -> None:
        """Count the samples the data side left out of a batch, by kind."""
        by_kind: Dict[str, List[str]] = {}
        for sample in batch["skipped"]:
            sample = SkippedSample(*sample)
            by_kind.setdefault(sample.kind, []).append(f"{sample.key}: {sample.reason}")
        for kind, examples in by_kind.items():
            self.count_skipped(stage, kind, examples)

    def empty_batch_loss(self, batch_idx: int) -> torch.Tensor:
        """A zero loss that reaches every parameter, for a training batch with nothing usable: DDP's gradient
        reduction still happens on every rank. Counted as ``empty_batch``."""
        self.count_skipped("train", "empty_batch", [f"batch {batch_idx}"])
        return sum(parameter.sum() for parameter in self.parameters()) * 0.0

    def reduced_skip_counts(self, stage: str) -> torch.Tensor:
        """This stage's counts summed over DDP ranks (every rank must call it)."""
        counts = self.skip_counts[stage].to(self.device)
        if self._trainer is not None and self.trainer.world_size > 1:
            counts = self.trainer.strategy.reduce(counts.clone(), reduce_op="sum")
        return counts.cpu()

    def log_skip_counts(self, stage: str, counts: torch.Tensor) -> None:
        # the counts are the same on every rank here, so every rank logs the same keys
        for kind, count in zip(SKIP_KINDS, counts.tolist()):
            if count:
                self.log(f"data/skipped_{stage}_{kind}", count, on_step=stage == "train", on_epoch=stage != "train",
                         rank_zero_only=True)

    def log_training_skips(self) -> None:
        """After each training step: the run's totals (this run on every rank, plus the runs it resumes)."""
        self.skip_totals = self._carried + self.reduced_skip_counts("train")
        self.log_skip_counts("train", self.skip_totals)

    def evaluation_loss(self, loss) -> Optional[torch.Tensor]:
        """A stage's mean loss (a ``MeanMetric``) over every DDP rank, or None when no rank had a usable sample.
        Every rank computes it, also one that read nothing: the reduction inside is a collective that all ranks
        must enter, or the others wait for it forever."""
        with warnings.catch_warnings():  # a rank that read nothing: torchmetrics warns of a compute before update
            warnings.filterwarnings("ignore", message=".*compute.*before.*update.*")
            value = loss.compute()
        return value if torch.isfinite(value) else None

    # steps ----------------------------------------------------------------------------------------
    score_metric = "score"

    def usable(self, batch: Dict[str, Any], stage: str) -> Optional[Dict[str, Any]]:
        """The batch's usable samples, the others counted (``count_batch_skips``); None when none is left."""
        raise NotImplementedError

    def training_loss(self, usable: Dict[str, Any]) -> Tuple[torch.Tensor, int]:
        """The loss of a batch's usable samples, and how many they are."""
        raise NotImplementedError

    def evaluation_step(self, batch: Dict[str, Any], stage: str, dataloader_idx: int = 0) -> Optional[Dict[str, Any]]:
        """Update ``eval_metrics[stage]`` and ``eval_losses[stage]`` with a batch; return its ``images`` (in
        [-1, 1]), ``labels`` and ``predictions`` for the sample tables, or None."""
        raise NotImplementedError

    def extra_evaluation_values(self, stage: str) -> Dict[str, Any]:
        """More values to log at the end of an evaluation (computed over every DDP rank)."""
        return {}

    def training_step(self, batch: Dict[str, Any], batch_idx: int) -> torch.Tensor:
        usable = self.usable(batch, "train")
        if usable is None:
            loss = self.empty_batch_loss(batch_idx)
        else:
            loss, count = self.training_loss(usable)
            self.log("train/loss", loss, prog_bar=True, batch_size=count)
        self.log_training_skips()
        return loss

    def validation_step(self, batch: Dict[str, Any], batch_idx: int,
                        dataloader_idx: int = 0) -> Optional[Dict[str, Any]]:
        return self.evaluation_step(batch, "val", dataloader_idx)

    def test_step(self, batch: Dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> Optional[Dict[str, Any]]:
        return self.evaluation_step(batch, "test", dataloader_idx)

    def log_evaluation(self, stage: str) -> None:
        """Compute (summed over DDP ranks by torchmetrics) and log the stage's metrics, its mean loss, its bad
        samples, and ``<stage>/score``: the ``score_metric``, which the shared checkpoint callback keeps the best
        of."""
        metrics, loss = self.eval_metrics[stage], self.eval_losses[stage]
        values = dict(metrics.compute())
        main = f"{stage}/{self.score_metric}"
        values[f"{stage}/score"] = values[main]
        mean_loss = self.evaluation_loss(loss)
        if mean_loss is not None:
            values[f"{stage}/loss"] = mean_loss
        values.update(self.extra_evaluation_values(stage))
        # already the same on every rank; Lightning's mean over the ranks keeps them so (and, without it, warns)
        self.log(main, values.pop(main), prog_bar=True, sync_dist=True)
        self.log_dict(values, sync_dist=True)
        metrics.reset()
        loss.reset()
        self.log_skip_counts(stage, self.reduced_skip_counts(stage))

    def on_validation_epoch_end(self) -> None:
        self.log_evaluation("val")

    def on_test_epoch_end(self) -> None:
        self.log_evaluation("test")

    # export and reading ------------------------------------------------------------------------------
    def export_graph(self) -> "ExportGraph":
        """The network as exported and read, with an example input (``lightocr.export.ExportGraph``)."""
        raise NotImplementedError

    def export_metadata(self) -> Dict[str, Any]:
        """What the task's predictor needs to read an exported file (plain JSON values)."""
        raise NotImplementedError

    def predictor(self, **options: Any) -> Predictor:
        """The task's predictor (``TaskSpec.predictor``) running this network in PyTorch
        (``lightocr.inference.TorchEngine``) on the export graph, with the export metadata: it reads exactly as the
        exported file will. ``options``: the predictor's own (``beam_width``)."""
        from ..inference import TorchEngine

        graph = self.export_graph()
        network = torch.compile(graph.module, dynamic=True) if getattr(self, "compile_network", False) else graph.module
        spec = task_of_class(type(self))
        metadata = dict(task=spec.name, **self.export_metadata())  # as the exported file carries it
        return import_object(spec.predictor)(TorchEngine(network, graph.input_names, owner=self), metadata, **options)

    def on_predict_start(self) -> None:
        self._predicting = self.predictor()

    def predict_step(self, batch: Dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> List[Dict[str, Any]]:
        """One row per readable image (``key``, ``text``, ``confidence``), by the task's predictor; skipped images
        are reported by the caller."""
        if not batch["keys"]:
            return []
        if self._predicting is None:
            self._predicting = self.predictor()
        predictions = self._predicting.predict_batch(batch)
        return [row for key, prediction in zip(batch["keys"], predictions)
                for row in self._predicting.rows(key, prediction)]

    @classmethod
    def linked_values(cls, data_settings: Dict[str, Any]) -> Dict[str, Any]:
        """The values a data module with these ``init_args`` links into the task, found without building it (a
        resumed run's are compared with its checkpoint's)."""
        return {}

    @classmethod
    def data_settings_of(cls, hparams: Dict[str, Any]) -> Dict[str, Any]:
        """The data module's ``init_args`` that shape inputs as a checkpoint with these hyperparameters was
        trained (``validate``, ``test`` and ``predict`` use them)."""
        return {}

    def on_validation_epoch_start(self) -> None:
        self.skip_counts["val"].zero_()

    def on_test_epoch_start(self) -> None:
        self.skip_counts["test"].zero_()

    # resuming ------------------------------------------------------------------------------------------
    def on_load_checkpoint(self, checkpoint: Dict[str, Any]) -> None:
        """Refuse, before any weight is touched, a checkpoint of another task (no ``marker`` hyperparameter), of
        other head labels (pointing to ``init_from``, which maps them) or other ``resume_keys`` settings; carry
        the run's training counters on. The command line checks the settings first, naming the configs."""
        saved = checkpoint.get("hyper_parameters", {})
        spec = task_of_class(type(self))
        if spec.marker not in saved:
            raise CheckpointError(f"this checkpoint was not written by {type(self).__name__} (its hyperparameters "
                                  f"have no {spec.marker})")
        rows = self.head_rows(saved)
        if rows is not None:
            _, ours, theirs, noun = rows
            if ours != theirs:
                raise CheckpointError(f"the checkpoint's {noun} differ from the data's "
                                      f"({label_difference(theirs, ours)}); a run cannot resume on other {noun}: "
                                      f"start a new one with --model.init_args.init_from=<the checkpoint> (its head "
                                      f"mapped by {noun})")
        for key in spec.resume_keys:
            theirs, ours = plain_value(saved.get(key)), plain_value(self.hparams.get(key))
            if theirs is not None and ours is not None and theirs != ours:
                raise CheckpointError(f"checkpoint {key}={theirs!r} differs from this run's {key}={ours!r}: a run "
                                      f"resumes with the settings that wrote its checkpoint")
        self.carry_run_records(checkpoint)

    def on_save_checkpoint(self, checkpoint: Dict[str, Any]) -> None:
        """Refuse to write non-finite weights (on every process, so that DDP ranks stop together); keep the
        counters of skipped samples and steps."""
        broken = [name for name, value in checkpoint.get("state_dict", {}).items()
                  if torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all()]
        if broken:
            raise NonFiniteTrainingError(f"not writing a checkpoint at step {checkpoint.get('global_step')}: "
                                         f"non-finite values in {', '.join(broken[:5])}")
        checkpoint["lightocr_task"] = class_path(type(self))
        # where the run's weights came from: recorded, no longer a setting, so that the files are never needed again
        hparams = dict(checkpoint.get("hyper_parameters") or {})
        started = dict(self.started_from, **{k: hparams[k] for k in START_SETTINGS if hparams.get(k)})
        if started:
            checkpoint[STARTED_FROM] = started
            checkpoint["hyper_parameters"] = dict(hparams, **{k: None for k in START_SETTINGS if k in hparams})
        checkpoint["skipped_samples"] = dict(zip(SKIP_KINDS, self.skip_totals.tolist()))
        checkpoint["skipped_nonfinite_steps"] = self.nonfinite_total

    def carry_run_records(self, checkpoint: Dict[str, Any]) -> None:
        """Go on counting from a resumed checkpoint's training totals; keep where its weights came from."""
        self.started_from = dict(checkpoint.get(STARTED_FROM) or {})
        counts = checkpoint.get("skipped_samples", {})
        self._carried = torch.tensor([float(counts.get(kind, 0)) for kind in SKIP_KINDS], dtype=torch.float64)
        self.skip_totals = self._carried.clone()
        self.nonfinite_total = int(checkpoint.get("skipped_nonfinite_steps", 0))


def label_difference(theirs: List[str], ours: List[str], shown: int = 8) -> str:
    """What separates a checkpoint's head labels from the data's, in a few words."""
    def some(labels: List[str]) -> str:
        return ", ".join(map(repr, labels[:shown])) + (", ..." if len(labels) > shown else "")

    their_labels, our_labels = set(theirs), set(ours)
    only_theirs = [label for label in theirs if label not in our_labels]
    only_ours = [label for label in ours if label not in their_labels]
    if not only_theirs and not only_ours:
        return f"the same {len(ours)} in another order"
    return (f"checkpoint {len(theirs)}, data {len(ours)}; only in the checkpoint: {some(only_theirs) or 'none'}; "
            f"only in the data: {some(only_ours) or 'none'}")
