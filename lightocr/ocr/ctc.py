"""CTC training parts: the head and the loss (decoding is ``lightocr.ocr.decode``, which needs no torch).

Index 0 is the blank (Graves et al. 2006); the head returns logits, and only the postprocess applies softmax.
"""
from __future__ import annotations

from typing import List, Sequence

import torch
from torch import nn

from .charset import BLANK


class CTCHead(nn.Module):
    """Linear classifier over the charset plus blank at every time step; returns logits."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)
        self.out_channels = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(x))


class LabelTooLongError(ValueError):
    """Targets that CTC cannot align with the available time steps."""


def ctc_min_length(targets: Sequence[int]) -> int:
    """Time steps CTC needs for ``targets``: one per symbol, plus a blank between equal neighbours."""
    return len(targets) + sum(a == b for a, b in zip(targets, targets[1:]))


class CTCLoss(nn.Module):
    """``nn.CTCLoss`` computed in float32 (also under autocast), mean over the batch, ``zero_infinity``.

    Before the loss, every target is checked against the sequence length: one that cannot fit raises
    ``LabelTooLongError`` with the count and an example, rather than a silent infinite (zeroed) loss.
    """

    def __init__(self):
        super().__init__()
        self.ctc = nn.CTCLoss(blank=BLANK, reduction="mean", zero_infinity=True)

    def forward(self, logits: torch.Tensor, targets: List[List[int]], input_lengths: torch.Tensor) -> torch.Tensor:
        too_long = [(i, t) for i, t in enumerate(targets) if ctc_min_length(t) > int(input_lengths[i])]
        if too_long:
            i, t = too_long[0]
            raise LabelTooLongError(
                f"{len(too_long)} of {len(targets)} labels need more CTC time steps than the image gives, e.g. "
                f"sample {i}: {len(t)} symbols need {ctc_min_length(t)} steps, has {int(input_lengths[i])}; "
                f"use wider images (data.max_width) or a backbone with less width reduction")
        with torch.autocast(device_type=logits.device.type, enabled=False):
            log_probs = logits.float().log_softmax(-1).transpose(0, 1)  # (time, batch, classes)
            flat = torch.tensor([s for t in targets for s in t], dtype=torch.long, device=logits.device)
            target_lengths = torch.tensor([len(t) for t in targets], dtype=torch.long, device=logits.device)
            return self.ctc(log_probs, flat, input_lengths.to(logits.device), target_lengths)
