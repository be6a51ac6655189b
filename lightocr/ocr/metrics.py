"""Recognition metrics as torchmetrics (summed over batches and reduced across DDP ranks).

* ``WordAccuracy(protocol="exact")``: the prediction equals the label.
* ``WordAccuracy(protocol="benchmark")``: the scene-text benchmark protocol: both sides case-folded, and for
  Latin charsets (all symbols ASCII) reduced to the 36 letters and digits before comparison; for other charsets
  only spaces and punctuation are dropped, so that a line in another script is never compared as empty.
* ``CharErrorRate``: total edit distance over total label length.
* ``NormalizedEditDistance``: mean of ``1 - distance / max(len(pred), len(label))`` (ICDAR 2019's 1-N.E.D.).
"""
import re
from typing import List, Optional, Sequence

import torch
from torchmetrics import Metric

_NOT_ALNUM36 = re.compile(r"[^0-9a-z]")


def benchmark_normalize(text: str, latin: bool = True) -> str:
    """The benchmark protocol's view of a line: Latin charsets keep ``[0-9a-z]`` after lower-casing; other
    charsets keep every letter and digit of any script (``str.isalnum``) after case folding."""
    if latin:
        return _NOT_ALNUM36.sub("", text.lower())
    return "".join(c for c in text.casefold() if c.isalnum())


def is_latin(symbols: Optional[Sequence[str]]) -> bool:
    """A charset whose symbols are all ASCII (the benchmark protocol's 36-symbol reduction applies)."""
    return symbols is None or all(s.isascii() for s in symbols)


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance (unit costs)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


class _TextMetric(Metric):
    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("numerator", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("denominator", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, predictions: List[str], labels: List[str]) -> None:
        if len(predictions) != len(labels):
            raise ValueError(f"{len(predictions)} predictions for {len(labels)} labels")
        numerator, denominator = self._score(predictions, labels)
        self.numerator += numerator
        self.denominator += denominator

    def compute(self) -> torch.Tensor:
        return (self.numerator / self.denominator.clamp_min(1)).float()


class WordAccuracy(_TextMetric):
    """Share of lines read exactly (``exact``) or under the benchmark protocol (``benchmark``; ``charset``, the
    symbols of the run, decides between the Latin and the any-script reduction)."""

    def __init__(self, protocol: str = "exact", charset: Optional[Sequence[str]] = None, **kwargs):
        super().__init__(**kwargs)
        if protocol not in ("exact", "benchmark"):
            raise ValueError(f"protocol must be 'exact' or 'benchmark', got {protocol!r}")
        self.protocol = protocol
        self.latin = is_latin(charset)

    def _score(self, predictions, labels):
        if self.protocol == "benchmark":
            predictions = [benchmark_normalize(p, self.latin) for p in predictions]
            labels = [benchmark_normalize(t, self.latin) for t in labels]
        return sum(p == t for p, t in zip(predictions, labels)), len(labels)


class CharErrorRate(_TextMetric):
    def _score(self, predictions, labels):
        return sum(edit_distance(p, t) for p, t in zip(predictions, labels)), sum(len(t) for t in labels)


class NormalizedEditDistance(_TextMetric):
    def _score(self, predictions, labels):
        return sum(1 - edit_distance(p, t) / max(len(p), len(t), 1) for p, t in zip(predictions, labels)), len(labels)
