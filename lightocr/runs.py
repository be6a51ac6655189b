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
"""
import os
import random
import re
import string
from pathlib import Path
from typing import List, Optional

VERSION = re.compile(r"^version_(\d+)$")
LAST = Path("checkpoints") / "last.ckpt"
# how Lightning's DDP launcher hands the run folder to the processes it starts
RUN_DIR_ENV, WANDB_ID_ENV = "LIGHTOCR_RUN_DIR", "LIGHTOCR_WANDB_ID"


def versions(root: Path) -> List[Path]:
    """The run folders under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := VERSION.match(p.name))]
    return [p for _, p in sorted(found)]


def new_version(root: Path) -> Path:
    existing = versions(root)
    return root / f"version_{int(VERSION.match(existing[-1].name).group(1)) + 1 if existing else 0}"


def latest_resumable(root: Path) -> Optional[Path]:
    """The newest run folder that holds ``checkpoints/last.ckpt``."""
    return next((run for run in reversed(versions(root)) if (run / LAST).is_file()), None)


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
