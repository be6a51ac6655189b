"""DB's loss (Liao et al. 2020, Sec. 3.5, as MhLiao/DB trains it): balanced binary cross-entropy with 3:1 hard
negative mining on the probability map, L1 on the threshold map within the expanded polygons, and dice on the
approximate binary map; computed in float32."""
from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn


class DBLoss(nn.Module):
    """``prob_weight * BCE(P) + thresh_weight * L1(T) + binary_weight * dice(B)``; the defaults are MhLiao/DB's
    (5, 10, 1), ``negative_ratio`` its 3."""

    def __init__(self, prob_weight: float = 5.0, thresh_weight: float = 10.0, binary_weight: float = 1.0,
                 negative_ratio: float = 3.0, eps: float = 1e-6):
        super().__init__()
        self.prob_weight, self.thresh_weight, self.binary_weight = prob_weight, thresh_weight, binary_weight
        self.negative_ratio, self.eps = negative_ratio, eps

    def forward(self, maps: Dict[str, torch.Tensor], targets: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        with torch.autocast(device_type=maps["prob"].device.type, enabled=False):
            maps = {name: m.float().squeeze(1) for name, m in maps.items()}
            prob = self.balanced_bce(maps["prob"], targets["prob"], targets["prob_mask"])
            thresh = (((maps["thresh"] - targets["thresh"]).abs() * targets["thresh_mask"]).sum()
                      / (targets["thresh_mask"].sum() + self.eps))
            losses = dict(prob=prob, thresh=thresh)
            weighted = self.prob_weight * prob + self.thresh_weight * thresh
            if "binary" in maps:
                losses["binary"] = self.dice(maps["binary"], targets["prob"], targets["prob_mask"])
                weighted = weighted + self.binary_weight * losses["binary"]
        return dict(losses, loss=weighted)

    def balanced_bce(self, pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """BCE over every positive pixel and the hardest negatives, at most ``negative_ratio`` per positive."""
        positive, negative = gt * mask, (1 - gt) * mask
        positives = int(positive.sum())
        negatives = min(int(negative.sum()), int(positives * self.negative_ratio))
        loss = F.binary_cross_entropy(pred.clamp(self.eps, 1 - self.eps), gt, reduction="none")
        hardest = (loss * negative).flatten().topk(negatives).values if negatives else loss.new_zeros(0)
        return ((loss * positive).sum() + hardest.sum()) / (positives + negatives + self.eps)

    def dice(self, pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        overlap = (pred * gt * mask).sum()
        return 1 - 2 * overlap / ((pred * mask).sum() + (gt * mask).sum() + self.eps)
