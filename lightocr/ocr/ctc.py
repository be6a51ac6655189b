"""CTC: the head, the loss, and decoding (greedy and beam search) in one postprocess place.

Index 0 is the blank (Graves et al. 2006); the head returns logits, and only the postprocess applies softmax.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .charset import BLANK, Charset

NEG_INF = float("-inf")


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


@dataclass(frozen=True)
class Prediction:
    """A decoded line: its text and a confidence in [0, 1]."""
    text: str
    confidence: float


class CTCDecoder:
    """Turns logits ``(batch, time, classes)`` into ``Prediction``s.

    ``beam_width=1`` is greedy (best path) decoding: the confidence is the product of the chosen symbols'
    probabilities (the blank steps excluded). ``beam_width>1`` is CTC prefix beam search; the confidence is the
    probability of the best labelling (summed over its alignments).
    """

    def __init__(self, charset: Charset, beam_width: int = 1):
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        self.charset = charset
        self.beam_width = beam_width

    def __call__(self, logits: torch.Tensor, lengths: Optional[torch.Tensor] = None) -> List[Prediction]:
        probs = logits.detach().float().softmax(-1).cpu()
        if lengths is None:
            lengths = torch.full((probs.shape[0],), probs.shape[1], dtype=torch.long)
        if self.beam_width == 1:
            return greedy_decode(probs, lengths, self.charset)
        return [self._beam(p[:n]) for p, n in zip(probs, lengths.tolist())]

    def _beam(self, probs: torch.Tensor) -> Prediction:
        indices, probability = prefix_beam_search(probs, self.beam_width)
        return Prediction(self.charset.decode(indices), probability)


def greedy_decode(probs: torch.Tensor, lengths: torch.Tensor, charset: Charset) -> List[Prediction]:
    """Batched best path: argmax per step, merge repeats, drop blanks."""
    best_prob, best = probs.max(-1)
    steps = torch.arange(best.shape[1])
    valid = steps[None, :] < lengths[:, None]
    repeat = torch.zeros_like(valid)
    repeat[:, 1:] = best[:, 1:] == best[:, :-1]
    keep = valid & ~repeat & (best != BLANK)
    # confidence: product of the probabilities of the emitted steps (1.0 for an empty line)
    log_conf = torch.where(keep, best_prob.clamp_min(1e-30).log(), torch.zeros_like(best_prob)).sum(1)
    return [Prediction(charset.decode(best[i][keep[i]].tolist()), float(log_conf[i].exp()))
            for i in range(best.shape[0])]


def _logaddexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def prefix_beam_search(probs: torch.Tensor, beam_width: int) -> Tuple[List[int], float]:
    """CTC prefix beam search (Hannun et al. 2014, Alg. 1) over ``probs`` of shape ``(time, classes)``.

    Each prefix keeps the log-probability of its alignments ending in blank and ending in its last symbol.
    Every step extends the beams with the ``beam_width`` most probable symbols (and the blank).
    Returns the best labelling and its probability.
    """
    log_probs = probs.clamp_min(1e-30).log()
    beams: Dict[Tuple[int, ...], Tuple[float, float]] = {(): (0.0, NEG_INF)}
    top = min(beam_width, probs.shape[1])
    for step in log_probs.tolist():
        candidates = sorted(range(len(step)), key=step.__getitem__, reverse=True)[:top]
        if BLANK not in candidates:
            candidates.append(BLANK)
        new: Dict[Tuple[int, ...], Tuple[float, float]] = {}

        def add(prefix: Tuple[int, ...], lp_blank: float, lp_symbol: float) -> None:
            old_blank, old_symbol = new.get(prefix, (NEG_INF, NEG_INF))
            new[prefix] = (_logaddexp(old_blank, lp_blank), _logaddexp(old_symbol, lp_symbol))

        for prefix, (lp_b, lp_s) in beams.items():
            total = _logaddexp(lp_b, lp_s)
            for c in candidates:
                lp = step[c]
                if c == BLANK:
                    add(prefix, total + lp, NEG_INF)
                elif prefix and prefix[-1] == c:
                    add(prefix, NEG_INF, lp_s + lp)           # a repeat collapses onto the same prefix
                    add(prefix + (c,), NEG_INF, lp_b + lp)    # after a blank it is a new symbol
                else:
                    add(prefix + (c,), NEG_INF, total + lp)
        beams = dict(sorted(new.items(), key=lambda kv: -_logaddexp(*kv[1]))[:beam_width])
    prefix, scores = max(beams.items(), key=lambda kv: _logaddexp(*kv[1]))
    return list(prefix), math.exp(_logaddexp(*scores))
