"""CTC decoding (the postprocess of text recognition) in numpy: greedy best path and prefix beam search. The
training task and every reader (PyTorch or ONNX Runtime) decode with it, so they print the same text.

Index 0 is the blank (Graves et al. 2006); the network gives logits, and only this postprocess applies softmax.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..predictor import Prediction, as_array, softmax
from .charset import BLANK, Charset

NEG_INF = float("-inf")


class CTCDecoder:
    """Turns logits ``(batch, time, classes)`` (numpy, or a torch tensor on any device) into ``Prediction``s.

    ``beam_width=1`` is greedy (best path) decoding: the confidence is the product of the chosen symbols'
    probabilities (the blank steps excluded). ``beam_width>1`` is CTC prefix beam search; the confidence is the
    probability of the best labelling (summed over its alignments).
    """

    def __init__(self, charset: Charset, beam_width: int = 1):
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        self.charset = charset
        self.beam_width = beam_width

    def __call__(self, logits: Any, lengths: Optional[Any] = None) -> List[Prediction]:
        probs = softmax(as_array(logits).astype(np.float32))
        lengths = (np.full(probs.shape[0], probs.shape[1], dtype=np.int64) if lengths is None
                   else as_array(lengths).astype(np.int64))
        if self.beam_width == 1:
            return greedy_decode(probs, lengths, self.charset)
        return [self._beam(p[:n]) for p, n in zip(probs, lengths.tolist())]

    def _beam(self, probs: np.ndarray) -> Prediction:
        indices, probability = prefix_beam_search(probs, self.beam_width)
        return Prediction(self.charset.decode(indices), probability)


def greedy_decode(probs: np.ndarray, lengths: np.ndarray, charset: Charset) -> List[Prediction]:
    """Batched best path: argmax per step, merge repeats, drop blanks."""
    best = probs.argmax(-1)
    best_prob = np.take_along_axis(probs, best[..., None], -1)[..., 0]
    valid = np.arange(best.shape[1])[None, :] < lengths[:, None]
    repeat = np.zeros_like(valid)
    repeat[:, 1:] = best[:, 1:] == best[:, :-1]
    keep = valid & ~repeat & (best != BLANK)
    # confidence: product of the probabilities of the emitted steps (1.0 for an empty line)
    log_conf = np.where(keep, np.log(np.maximum(best_prob, 1e-30)), 0.0).sum(1)
    return [Prediction(charset.decode(best[i][keep[i]].tolist()), float(np.exp(log_conf[i])))
            for i in range(best.shape[0])]


def _logaddexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def prefix_beam_search(probs: np.ndarray, beam_width: int) -> Tuple[List[int], float]:
    """CTC prefix beam search (Hannun et al. 2014, Alg. 1) over ``probs`` of shape ``(time, classes)``.

    Each prefix keeps the log-probability of its alignments ending in blank and ending in its last symbol.
    Every step extends the beams with the ``beam_width`` most probable symbols (and the blank).
    Returns the best labelling and its probability.
    """
    log_probs = np.log(np.maximum(probs, 1e-30))
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
