"""Starting a task from weights (not resuming it):

- ``backbone_weights``: a task's backbone from a file (``lightocr.models.create_backbone``);
- ``carry_weights``: a trained model's weights into a new task of the same kind, the output rows of its head
  mapped by label (a recognizer's symbols, a classifier's class names), the rest whole.

Both are recorded in the checkpoints of the run they start (``lightocr_started_from``), not kept as settings, so
that reading or resuming those checkpoints never needs the files again.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from ..errors import CheckpointError

STARTED_FROM = "lightocr_started_from"  # the checkpoint entry: {"backbone_weights": path, "init_from": path}
START_SETTINGS = ("backbone_weights", "init_from")
BLANK_LABEL = ""  # the label of a row every such head has (CTC's blank): carried, never counted


def map_rows(fresh: torch.Tensor, trained: torch.Tensor, labels: Sequence[str],
             trained_labels: Sequence[str]) -> torch.Tensor:
    """``fresh`` (rows in the order of ``labels``) with each row whose label the trained head has replaced by
    that row of ``trained`` (rows in the order of ``trained_labels``)."""
    index = {label: row for row, label in enumerate(trained_labels)}
    mapped = fresh.clone()
    for row, label in enumerate(labels):
        if label in index:
            mapped[row] = trained[index[label]]
    return mapped


def shown(labels: Sequence[str], most: int = 12) -> str:
    return ", ".join(labels[:most]) + (", ..." if len(labels) > most else "")


def carry_weights(model: nn.Module, trained: Dict[str, torch.Tensor], where: str,
                  head: Optional[Tuple[str, Sequence[str], Sequence[str], str]] = None) -> Tuple[str, Optional[str]]:
    """Load ``trained`` (a state dict) into ``model``; ``head``: ``(key prefix, labels, trained labels, noun)``
    of the layers whose first dimension is one row per label (e.g. ``("model.head.", symbols, old symbols,
    "symbols")``). Every other tensor must be there with the same shape: the first that is not raises
    ``CheckpointError`` naming ``where`` and the layer. Returns what was done, for the log, and a warning when
    no label is shared."""
    own = model.state_dict()
    carried: Dict[str, torch.Tensor] = {}
    prefix, labels, trained_labels, noun = head or ("\0", [], [], "")
    for key, value in own.items():
        source = trained.get(key)
        if key.startswith(prefix) and source is not None and source.shape[1:] == value.shape[1:] \
                and source.shape[0] == len(trained_labels) and value.shape[0] == len(labels):
            carried[key] = map_rows(value, source.to(value.dtype), labels, trained_labels)
        elif source is None or source.shape != value.shape:
            found = "missing" if source is None else f"{tuple(source.shape)}"
            raise CheckpointError(f"init_from {where} does not fit this model: first mismatch at {key!r}, "
                                  f"checkpoint {found} vs model {tuple(value.shape)} (another backbone or neck?)")
        else:
            carried[key] = source
    model.load_state_dict(carried)
    if head is None:
        return f"all {len(carried)} tensors carried from {where}", None
    labels, trained_labels = [l for l in labels if l != BLANK_LABEL], [l for l in trained_labels if l != BLANK_LABEL]
    new = [l for l in labels if l not in set(trained_labels)]
    dropped = [l for l in trained_labels if l not in set(labels)]
    kept = len(labels) - len(new)
    message = (f"{kept} {noun} carried, {len(new)} new" + (f" ({shown(new)})" if new else "") +
               f", {len(dropped)} dropped" + (f" ({shown(dropped)})" if dropped else "") + f" (from {where})")
    return message, (f"no {noun} in common with {where}: nothing is carried but the backbone and neck"
                     if kept == 0 else None)
