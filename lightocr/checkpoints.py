"""Checkpoints a run can always resume from.

* ``AtomicCheckpointIO``: a checkpoint is written to a temporary file in its own folder, flushed to disk
  (fsync), then renamed over the old one, so that a kill during the save or a full disk leaves the previous file
  whole. Lightning's own writer stages the file in the system's temporary folder, whose move onto another
  filesystem is a copy that a kill can truncate.
* ``LastCheckpoint``: ``last.ckpt`` at every validation whether or not the score improved (``ModelCheckpoint``'s
  ``save_last`` refreshes it only with a new best), every ``every_n_train_steps`` steps, at the end of training,
  on Ctrl-C, and on SIGTERM at the step reached (then the run stops with exit code 143); on SLURM's requeue
  signal (SIGUSR1) an ``hpc_ckpt_<n>.ckpt`` at a step boundary, then the job is requeued.
* ``resume_candidates``: the complete checkpoints of a run folder (hpc, last, best), newest step first, so that
  ``--ckpt_path auto`` takes the newest one that loads, naming any that does not.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.distributed as dist
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Checkpoint, ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from .errors import CheckpointError, TrainingStopped

LAST_NAME = "last.ckpt"
HPC_PATTERN = re.compile(r"^hpc_ckpt_(\d+)\.ckpt$")


def fsync_folder(folder: str) -> None:
    """Make a rename inside ``folder`` durable (POSIX: the folder's entry is flushed with the folder)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local writes are atomic and durable: temporary file in the target's folder,
    fsync, rename, fsync of the folder. A failed write (a full disk) removes the temporary file, leaves the
    previous checkpoint as it was, and raises ``CheckpointError`` naming the folder. Remote paths (``s3://``...)
    are written by Lightning's own writer."""

    def save_checkpoint(self, checkpoint: Dict[str, Any], path, storage_options: Optional[Any] = None) -> None:
        if "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        folder, name = os.path.dirname(os.path.abspath(path)), os.path.basename(path)
        kept = f"the previous {name} there is unchanged" if os.path.exists(path) else "nothing was written"
        temporary = None
        try:
            os.makedirs(folder, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            with os.fdopen(handle, "wb") as stream:
                torch.save(checkpoint, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
            temporary = None
            fsync_folder(folder)
        except OSError as error:
            raise CheckpointError(
                f"cannot write checkpoint {name} in {folder}: {error.strerror or error}; {kept}. Free space in "
                f"{folder} (or move trainer.default_root_dir) and resume with --ckpt_path last") from error
        finally:
            if temporary is not None and os.path.exists(temporary):
                os.remove(temporary)


def use_atomic_writes(trainer: Trainer) -> None:
    """Put ``AtomicCheckpointIO`` in place of Lightning's default writer (a writer the user chose is kept)."""
    if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
        trainer.strategy.checkpoint_io = AtomicCheckpointIO()


def checkpoint_folder(trainer: Trainer) -> str:
    """Where a run's checkpoints go: the first ``ModelCheckpoint``'s folder, else ``<root>/checkpoints``."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            return str(callback.dirpath)
    return os.path.join(trainer.log_dir or trainer.default_root_dir, "checkpoints")


class LastCheckpoint(Checkpoint):
    """``last.ckpt`` as training goes, and a clean stop on SIGTERM.

    Writes ``<checkpoint folder>/last.ckpt`` after every validation of a fit (improved or not), every
    ``every_n_train_steps`` training steps when set, when training ends (``max_steps``, ``max_time``), and on
    Ctrl-C. Every such checkpoint holds the data module's position, so a run killed outright (SIGKILL, an OOM kill)
    loses at most the steps since the last one.

    Signals are only noted when they arrive and acted on between two steps (or two validation batches), when
    the model, optimizer and data position agree; under DDP the processes agree on the step through an
    all-reduce, so that a signal sent to one process (``docker stop`` reaches rank 0 only) stops them all at once:

    * SIGTERM (``docker stop``, Kubernetes, ``scancel``, torchrun): save ``last.ckpt`` at the step reached, then
      raise ``TrainingStopped`` (the command line exits with 143).
    * SLURM's requeue signal (SIGUSR1 with ``#SBATCH --signal``, when Lightning's ``SLURMEnvironment`` has
      ``auto_requeue``): save ``hpc_ckpt_<n>.ckpt`` in the run folder, requeue the job (``scontrol requeue``) and
      go on training until SLURM stops it.

    Listed after ``ModelCheckpoint``, so that the ``last.ckpt`` of a validation also records its new best.
    """

    def __init__(self, every_n_train_steps: Optional[int] = None):
        if every_n_train_steps is not None and every_n_train_steps < 1:
            raise ValueError(f"every_n_train_steps must be a positive number of steps, got {every_n_train_steps}")
        self.every_n_train_steps = every_n_train_steps
        self._pending: Dict[int, bool] = {}
        self._saved_step: Optional[int] = None
        self._requeue_signal: Optional[int] = None

    # signals --------------------------------------------------------------------------------------------
    def _note(self, signum: int, frame: Any) -> None:
        self._pending[signum] = True

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Take SIGTERM (and SLURM's requeue signal) over from Lightning, whose handlers act in the middle of a
        step (its requeue saves a checkpoint from inside the signal handler) and end a SIGTERM with exit code 0.
        Lightning restores the handlers it found when the run is torn down."""
        self._pending = {signal.SIGTERM: True} if trainer.received_sigterm else {}  # during setup or sanity check
        environment = trainer._accelerator_connector.cluster_environment
        self._requeue_signal = (int(environment.requeue_signal) if isinstance(environment, SLURMEnvironment)
                                and environment.auto_requeue else None)
        for signum in filter(None, (signal.SIGTERM, self._requeue_signal)):
            try:
                signal.signal(signum, self._note)
            except ValueError:  # not the main thread: signals are not ours to take
                return

    def _agreed_signals(self, trainer: Trainer) -> Tuple[bool, bool]:
        """(stop, requeue): whether any process noted SIGTERM or the requeue signal (all processes call this)."""
        flags = torch.tensor([float(self._pending.get(signal.SIGTERM, False)),
                              float(self._pending.get(self._requeue_signal, False))])
        if trainer.world_size > 1 and dist.is_available() and dist.is_initialized():
            flags = flags.to(trainer.strategy.root_device)
            dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        stop, requeue = (bool(v) for v in flags.tolist())
        return stop, requeue

    def _act_on_signals(self, trainer: Trainer) -> None:
        stop, requeue = self._agreed_signals(trainer)
        if requeue:
            self._pending.pop(self._requeue_signal, None)
            self._save_hpc_and_requeue(trainer)
        if stop:
            self._pending.pop(signal.SIGTERM, None)
            path = self.save(trainer)
            mark_preempting(trainer)
            raise TrainingStopped(f"stopped by SIGTERM at step {trainer.global_step}; {path} holds that step and "
                                  f"its data position (resume with --ckpt_path last or auto)", signal.SIGTERM)

    def _save_hpc_and_requeue(self, trainer: Trainer) -> None:
        path = trainer.strategy.broadcast(trainer._checkpoint_connector.hpc_save_path(trainer.default_root_dir))
        trainer.save_checkpoint(path, weights_only=False)
        rank_zero_info(f"requeue signal: saved {path} (step {trainer.global_step})")
        if trainer.is_global_zero:
            requeue_slurm_job()

    # when last.ckpt is written ----------------------------------------------------------------------------
    def save(self, trainer: Trainer) -> str:
        """Write ``last.ckpt`` at the current step (every process calls this); returns its path."""
        path = os.path.join(checkpoint_folder(trainer), LAST_NAME)
        trainer.save_checkpoint(path, weights_only=False)
        self._saved_step = trainer.global_step
        return path

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        use_atomic_writes(trainer)
        self._saved_step = None

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        if (self.every_n_train_steps and trainer.global_step % self.every_n_train_steps == 0
                and self._saved_step != trainer.global_step):  # once per step with gradient accumulation
            self.save(trainer)
        self._act_on_signals(trainer)

    def on_validation_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx,
                                dataloader_idx: int = 0) -> None:
        if trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking:
            self._act_on_signals(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking and trainer.global_step > 0:
            self.save(trainer)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.global_step > 0 and self._saved_step != trainer.global_step:
            path = self.save(trainer)
            rank_zero_info(f"last checkpoint (step {trainer.global_step}): {path}")

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt) and trainer.global_step > 0:
            path = self.save(trainer)
            rank_zero_info(f"last checkpoint (step {trainer.global_step}): {path}")

    def state_dict(self) -> Dict[str, Any]:
        return dict(every_n_train_steps=self.every_n_train_steps)


def mark_preempting(trainer: Trainer) -> None:
    """Tell W&B that the run was preempted (shown as such, not as failed), on the process that logs."""
    from lightning.pytorch.loggers import WandbLogger

    if not trainer.is_global_zero:
        return
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger) and hasattr(logger.experiment, "mark_preempting"):
            logger.experiment.mark_preempting()


def requeue_slurm_job() -> None:
    """``scontrol requeue`` this SLURM job (an array job's own task)."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array_job else os.environ.get("SLURM_JOB_ID", "")
    if not re.fullmatch(r"[0-9_]+", job):
        rank_zero_warn(f"requeue signal: no SLURM job id to requeue (SLURM_JOB_ID={job!r})")
        return
    try:
        result = subprocess.call(["scontrol", "requeue", job])
    except OSError as error:
        rank_zero_warn(f"requeue signal: cannot run scontrol ({error}); the job is not requeued")
        return
    if result == 0:
        rank_zero_info(f"requeued SLURM job {job}")
    else:
        rank_zero_warn(f"scontrol requeue {job} failed with exit code {result}")


# resuming ----------------------------------------------------------------------------------------------------
def run_checkpoints(run_dir: Path) -> List[Path]:
    """The checkpoints of a run folder a resume may start from: ``hpc_ckpt_<n>.ckpt`` in the folder, and the
    ``.ckpt`` files of ``checkpoints/`` (``last.ckpt`` and the best ones)."""
    found = [p for p in run_dir.glob("hpc_ckpt_*.ckpt") if HPC_PATTERN.match(p.name)]
    return found + sorted((run_dir / "checkpoints").glob("*.ckpt"))


def read_checkpoint(path: Path) -> Dict[str, Any]:
    """A checkpoint's contents (tensors memory-mapped), read with ``weights_only=True``, or a weights file that
    ``write_weights`` wrote (``.safetensors``) as ``{"hyper_parameters", "state_dict"}``; ``CheckpointError``
    naming the file if it is missing, truncated or not a checkpoint."""
    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        if Path(path).suffix == ".safetensors":
            return read_weights(Path(path))
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {type(error).__name__}: {error}") from None


def plain_value(value):
    """Namespaces, tuples and lists as plain dicts and lists, for comparing settings with saved hyperparameters."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return value


HPARAMS_KEY = "lightocr.hyper_parameters"


def write_weights(task, path: Path) -> Path:
    """A trained task's weights as safetensors, with its hyperparameters (JSON) in the file's metadata: what
    ``load_task`` and ``init_from`` need, without a training state (optimizer, loops) or pickling."""
    from safetensors.torch import save_file

    hparams = {k: v for k, v in task.hparams.items() if not k.startswith("_")}
    state = {k: v.detach().cpu().contiguous() for k, v in task.state_dict().items()}
    save_file(state, str(path), metadata={HPARAMS_KEY: json.dumps(hparams)})
    return Path(path)


def read_weights(path: Path) -> Dict[str, Any]:
    """A file of ``write_weights`` as a checkpoint's ``hyper_parameters`` and ``state_dict``; a safetensors
    file without them (a backbone's weights) has no ``hyper_parameters``."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as opened:  # the tensors and the metadata from one opening of the file
        metadata = opened.metadata() or {}
        state = dict(state_dict={name: opened.get_tensor(name) for name in opened.keys()})
    if HPARAMS_KEY in metadata:
        state["hyper_parameters"] = json.loads(metadata[HPARAMS_KEY])
    return state


def resume_candidates(run_dir: Path) -> Tuple[List[Tuple[int, Path]], List[str]]:
    """``([(step, path), ...] newest first, [problems])``: the run's checkpoints that load and hold a training
    state, and a line for each one that does not. At the same step, ``last.ckpt`` comes first, then hpc ones."""
    good, problems = [], []
    for path in run_checkpoints(run_dir):
        try:
            state = read_checkpoint(path)
        except CheckpointError as error:
            problems.append(str(error))
            continue
        if not isinstance(state, dict) or "global_step" not in state or "state_dict" not in state:
            problems.append(f"{path} holds no training state (no global_step or state_dict)")
            continue
        rank = 0 if path.name == LAST_NAME else 1 if HPC_PATTERN.match(path.name) else 2
        good.append((int(state["global_step"]), -rank, path))
    good.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [(step, path) for step, _, path in good], problems
