"""Text detection scored by the ICDAR2015 protocol (Karatzas et al. 2015): a detection matches a true region
when their polygon IoU is at least 0.5, one to one; detections lying mostly (over half their area) on a
don't-care region (``###``) count neither way, and don't-care regions are never to be found. Precision, recall
and their harmonic mean (hmean) over every page, the counts summed over DDP ranks."""
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from shapely.geometry import Polygon
from torchmetrics import Metric

IOU_THRESHOLD = 0.5
DONT_CARE_SHARE = 0.5


def polygon(points: np.ndarray) -> Polygon:
    """A valid shapely polygon of ``(n, 2)`` points (a self-crossing one repaired by ``buffer(0)``)."""
    shape = Polygon(np.asarray(points, dtype=np.float64))
    return shape if shape.is_valid else shape.buffer(0)


def match_page(detections: Sequence[np.ndarray], truths: Sequence[Tuple[np.ndarray, bool]]) -> Tuple[int, int, int]:
    """``(matched, true regions to find, detections that count)`` of one page; ``truths`` are ``(points,
    dont_care)``."""
    cares = [polygon(p) for p, dont_care in truths if not dont_care]
    dont_cares = [polygon(p) for p, dont_care in truths if dont_care]
    counted = []
    for points in detections:
        shape = polygon(points)
        on_dont_care = shape.area > 0 and any(shape.intersection(d).area / shape.area > DONT_CARE_SHARE
                                              for d in dont_cares)
        if not on_dont_care:
            counted.append(shape)
    used, matched = set(), 0
    for truth in cares:  # in the protocol's order: each true region takes the first free detection over the IoU
        for index, shape in enumerate(counted):
            union = shape.union(truth).area
            if index not in used and union > 0 and shape.intersection(truth).area / union >= IOU_THRESHOLD:
                used.add(index)
                matched += 1
                break
    return matched, len(cares), len(counted)


class DetectionMetric(Metric):
    """``update(detections, truths)`` per batch: for each page, its detected polygons and its true ``(points,
    dont_care)`` regions. ``compute()``: ``<prefix>precision``, ``<prefix>recall``, ``<prefix>hmean`` (a page set
    with nothing to find and nothing found scores 1)."""

    full_state_update = False

    def __init__(self, prefix: str = "", **kwargs):
        super().__init__(**kwargs)
        self.prefix = prefix
        for name in ("matched", "truths", "detections"):
            self.add_state(name, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, detections: Sequence[Sequence[np.ndarray]],
               truths: Sequence[Sequence[Tuple[np.ndarray, bool]]]) -> None:
        for page_detections, page_truths in zip(detections, truths):
            matched, to_find, counted = match_page(page_detections, page_truths)
            self.matched += matched
            self.truths += to_find
            self.detections += counted

    def compute(self) -> Dict[str, torch.Tensor]:
        matched = self.matched.double()
        recall = matched / self.truths if self.truths > 0 else torch.tensor(1.0, dtype=torch.float64)
        precision = matched / self.detections if self.detections > 0 else torch.tensor(
            1.0 if self.truths == 0 else 0.0, dtype=torch.float64)
        hmean = 2 * precision * recall / (precision + recall) if precision + recall > 0 else precision * 0
        values = dict(precision=precision, recall=recall, hmean=hmean)
        return {f"{self.prefix}{name}": value.float() for name, value in values.items()}
