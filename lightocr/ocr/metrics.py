"""Recognition metrics as torchmetrics (summed over batches and reduced across DDP ranks).

* ``WordAccuracy(protocol="exact")``: the prediction equals the label.
* ``WordAccuracy(protocol="benchmark")``: the scene-text benchmark protocol: both sides lowercased and reduced
  to ASCII letters and digits before comparison.
* ``CharErrorRate``: total edit distance over total label length.
* ``NormalizedEditDistance``: mean of ``1 - distance / max(len(pred), len(label))`` (ICDAR 2019's 1-N.E.D.).
"""
from __future__ import annotations

import re
from typing import List, Sequence

import torch
from torchmetrics import Metric

_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def benchmark_normalize(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


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
    def __init__(self, protocol: str = "exact", **kwargs):
        super().__init__(**kwargs)
        if protocol not in ("exact", "benchmark"):
            raise ValueError(f"protocol must be 'exact' or 'benchmark', got {protocol!r}")
        self.protocol = protocol

    def _score(self, predictions, labels):
        if self.protocol == "benchmark":
            predictions = [benchmark_normalize(p) for p in predictions]
            labels = [benchmark_normalize(t) for t in labels]
        return sum(p == t for p, t in zip(predictions, labels)), len(labels)


class CharErrorRate(_TextMetric):
    def _score(self, predictions, labels):
        return sum(edit_distance(p, t) for p, t in zip(predictions, labels)), sum(len(t) for t in labels)


class NormalizedEditDistance(_TextMetric):
    def _score(self, predictions, labels):
        return sum(1 - edit_distance(p, t) / max(len(p), len(t), 1) for p, t in zip(predictions, labels)), len(labels)
