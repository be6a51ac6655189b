"""Weights & Biases without surprises: offline when there are no credentials, never a login prompt."""
from __future__ import annotations

import netrc
import os
from typing import Optional

from lightning.pytorch.utilities import rank_zero_info

WANDB_HOSTS = ("api.wandb.ai",)


def wandb_credentials_available() -> bool:
    """An API key in the environment or in ``~/.netrc`` (where ``wandb login`` stores it)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        entries = netrc.netrc(os.environ.get("NETRC")).hosts
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False
    host = os.environ.get("WANDB_BASE_URL", "").split("://")[-1].rstrip("/")
    return any(h in entries for h in (*WANDB_HOSTS, host) if h)


def ensure_wandb_mode(save_dir: Optional[str] = None) -> str:
    """Set ``WANDB_MODE=offline`` when it is unset and no credentials exist; say once how to upload later.

    Returns the mode in force. An explicit ``WANDB_MODE`` (``online``, ``offline``, ``disabled``) is respected.
    """
    os.environ.setdefault("WANDB_SILENT", "true")
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if wandb_credentials_available():
        return "online"
    os.environ["WANDB_MODE"] = "offline"
    where = os.path.join(save_dir or ".", "wandb", "offline-run-*")
    rank_zero_info(f"W&B: no credentials found, logging offline. Upload later with: wandb sync {where}")
    return "offline"
