"""Run folders: every launch of a config writes under ``<root>/version_<n>/`` (``root`` is
``trainer.default_root_dir``, by default ``runs/<config name>``):

    runs/crnn_mobilenetv3/version_0/
        config.yaml              the resolved config of the run
        checkpoints/last.ckpt    and the best checkpoint by val/score
        wandb/                   the W&B run files (offline-run-* without credentials)
        predictions.tsv          what `lightning predict` read

``--ckpt_path last`` continues the newest run of the config that has a ``last.ckpt``, in its own folder and
W&B run (same id, resumed); ``--ckpt_path auto`` does the same, or starts a new run when there is none.

``LIGHTOCR_RUN_DIR`` names the run folder outright: jobs whose processes are started by a cluster launcher
(SLURM, torchrun) set it, so that every process agrees on one folder; Lightning's own DDP launcher hands the
folder to the processes it starts the same way.

A new version folder is claimed with an exclusive ``mkdir``, so that two launches at once never share one. A
fitting run holds ``run.lock`` in its folder (``RunLock``: the process id, host and SLURM job, refreshed every
30 s), so that ``--ckpt_path last`` does not resume a run that a live process is still training.
"""
import atexit
import json
import os
import random
import re
import socket
import string
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from lightning.pytorch.utilities import rank_zero_warn

from .checkpoints import run_checkpoints
from .errors import RunFolderError

VERSION = re.compile(r"^version_(\d+)$")
# how Lightning's DDP launcher hands the run folder to the processes it starts
RUN_DIR_ENV, WANDB_ID_ENV = "LIGHTOCR_RUN_DIR", "LIGHTOCR_WANDB_ID"


def versions(root: Path) -> List[Path]:
    """The run folders under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := VERSION.match(p.name))]
    return [p for _, p in sorted(found)]


def new_version(root: Path) -> Path:
    """Claim the next ``version_<n>`` under ``root``: created here with an exclusive ``mkdir``, so that a launch
    started at the same moment takes the number after it."""
    root.mkdir(parents=True, exist_ok=True)
    existing = versions(root)
    number = int(VERSION.match(existing[-1].name).group(1)) + 1 if existing else 0
    while True:
        try:
            (root / f"version_{number}").mkdir()
            return root / f"version_{number}"
        except FileExistsError:
            number += 1


def latest_resumable(root: Path) -> Optional[Path]:
    """The newest run folder that holds a checkpoint to resume from (``last.ckpt``, a best one, an hpc one)."""
    return next((run for run in reversed(versions(root)) if run_checkpoints(run)), None)


def run_of_checkpoint(checkpoint: Path, root: Path) -> Optional[Path]:
    """The run folder a checkpoint lies in (``<root>/version_<n>/checkpoints/``), if any."""
    run = checkpoint.resolve().parent.parent
    return run if run.parent == root.resolve() and VERSION.match(run.name) else None


def wandb_run_id(run_dir: Path) -> Optional[str]:
    """The W&B id of a run folder's newest W&B run (``wandb/[offline-]run-<date>-<id>``)."""
    runs = sorted((run_dir / "wandb").glob("*run-*-*"), key=lambda p: p.stat().st_mtime)
    return runs[-1].name.rsplit("-", 1)[-1] if runs else None


def new_wandb_id() -> str:
    return "".join(random.SystemRandom().choices(string.ascii_lowercase + string.digits, k=8))


def fixed_run_dir() -> Optional[Path]:
    """The run folder set in the environment (by the user or the launching process), if any."""
    folder = os.environ.get(RUN_DIR_ENV)
    return Path(folder) if folder else None


def is_global_zero() -> bool:
    """Rank zero of a job (read from the launcher's environment, before any process group exists)."""
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


LOCK_NAME = "run.lock"
HEARTBEAT_S, STALE_AFTER_S = 30, 120


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """``run.lock`` in a run folder while a process trains it: JSON with the ``pid``, ``host`` and SLURM job of
    the holder, its modification time refreshed every 30 s by a background thread.

    A lock is stale, and taken over with a warning, when its holder is on this host and no longer runs, when it is
    the previous run of this SLURM job (a requeue: ``SLURM_RESTART_COUNT`` is higher now), or when it is on
    another host and has not been refreshed for 120 s. Otherwise ``acquire`` raises ``RunFolderError``.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.mine = dict(pid=os.getpid(), host=socket.gethostname(), slurm_job=os.environ.get("SLURM_JOB_ID"),
                         slurm_restart=int(os.environ.get("SLURM_RESTART_COUNT", 0)), started=time.time())

    def holder(self) -> Optional[Dict[str, Any]]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # being written, or damaged: judged by its age alone

    def stale(self, holder: Dict[str, Any]) -> bool:
        try:
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return True
        if holder.get("host") == self.mine["host"] and isinstance(holder.get("pid"), int):
            return not _alive(holder["pid"])
        if holder.get("slurm_job") and holder.get("slurm_job") == self.mine["slurm_job"]:
            return int(holder.get("slurm_restart", 0)) < self.mine["slurm_restart"]
        return age > STALE_AFTER_S

    def acquire(self) -> "RunLock":
        for _ in range(3):
            try:
                handle = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder is None:
                    continue
                if not self.stale(holder):
                    raise RunFolderError(
                        f"{self.path.parent} is being trained by process {holder.get('pid', '?')} on host "
                        f"{holder.get('host', '?')} (lock file {self.path}, refreshed every {HEARTBEAT_S} s). Wait for "
                        f"it to end or stop it; if that process is gone (its host crashed), delete {self.path}")
                rank_zero_warn(f"taking over {self.path}: its holder (process {holder.get('pid', '?')} on "
                               f"{holder.get('host', '?')}) is gone")
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(handle, "w") as stream:
                json.dump(self.mine, stream)
            self._thread = threading.Thread(target=self._heartbeat, name="lightocr-run-lock", daemon=True)
            self._thread.start()
            atexit.register(self.release)
            return self
        raise RunFolderError(f"cannot take {self.path}: other launches keep taking it")

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None and self.holder() == self.mine:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
        self._thread = None
