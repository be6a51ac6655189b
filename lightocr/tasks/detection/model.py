"""The DB network: a backbone's pyramid at strides 4 to 32, an FPN neck that fuses it at stride 4, and the DB
head's probability and threshold maps (Liao et al. 2020, Sec. 3 and Fig. 2)."""
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ...models import create_backbone


class FPNNeck(nn.Module):
    """Feature pyramid fusion (Lin et al. 2017) as DB uses it: a 1x1 lateral conv per level, a top-down pathway
    that adds each coarser map resized to the finer map's own size (never a fixed factor of 2: unpadded stems give
    maps that are not exact halves), a 3x3 conv to ``out_channels // 4`` per level, and the levels resized to the
    finest one and concatenated (``out_channels`` from four levels, three quarters of it from SqueezeNet's three)."""

    def __init__(self, in_channels: Sequence[int], out_channels: int = 256):
        super().__init__()
        if out_channels % 4:
            raise ValueError(f"neck out_channels must be divisible by 4, got {out_channels}")
        self.lateral = nn.ModuleList(nn.Conv2d(c, out_channels, 1, bias=False) for c in in_channels)
        self.smooth = nn.ModuleList(nn.Conv2d(out_channels, out_channels // 4, 3, padding=1, bias=False)
                                    for _ in in_channels)
        self.out_channels = len(in_channels) * (out_channels // 4)

    def forward(self, features: List[torch.Tensor]) -> torch.Tensor:
        maps = [conv(f) for conv, f in zip(self.lateral, features)]
        for i in range(len(maps) - 2, -1, -1):  # top-down
            maps[i] = maps[i] + F.interpolate(maps[i + 1], size=maps[i].shape[-2:], mode="nearest")
        size = maps[0].shape[-2:]
        return torch.cat([F.interpolate(conv(m), size=size, mode="nearest") if i else conv(m)
                          for i, (conv, m) in enumerate(zip(self.smooth, maps))], dim=1)


def map_branch(in_channels: int) -> nn.Sequential:
    """3x3 conv-BN-ReLU, then two stride-2 transposed convs back to the input resolution (DB, Sec. 3)."""
    mid = in_channels // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
        nn.ConvTranspose2d(mid, mid, 2, stride=2), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
        nn.ConvTranspose2d(mid, 1, 2, stride=2))


class DBHead(nn.Module):
    """The probability map P and the threshold map T (sigmoids), and during training the approximate binary map
    B = 1 / (1 + exp(-k (P - T))) of the differentiable binarization (Eq. 2, ``k`` = 50)."""

    def __init__(self, in_channels: int, k: float = 50.0):
        super().__init__()
        self.probability, self.threshold, self.k = map_branch(in_channels), map_branch(in_channels), k

    def forward(self, fused: torch.Tensor, size: Sequence[int]) -> Dict[str, torch.Tensor]:
        maps = dict(prob=self.probability(fused), thresh=self.threshold(fused))
        maps = {name: torch.sigmoid(F.interpolate(m, size=tuple(size), mode="bilinear", align_corners=False)
                                    if m.shape[-2:] != tuple(size) else m) for name, m in maps.items()}
        if self.training:
            maps["binary"] = torch.sigmoid(self.k * (maps["prob"] - maps["thresh"]))
        return maps


class DBNet(nn.Module):
    """A text detector on any zoo network (``lightocr.list_models()``) or timm model that has ``features_only``:
    its levels at strides 4 to 32 (SqueezeNet's stop at 16; ``lo_xception65``'s stride-4 level is its DeepLab
    low-level feature) feed ``FPNNeck`` and ``DBHead``. ``forward`` gives ``prob`` and ``thresh`` maps of the
    input's size (and ``binary`` while training). ``backbone_weights``: a file to start the backbone from
    (``lightocr.models.create_backbone``)."""

    def __init__(self, backbone: str = "lo_mobilenetv3_large_100", backbone_kwargs: Optional[Dict[str, Any]] = None,
                 in_chans: int = 3, neck_channels: int = 256, k: float = 50.0, backbone_weights: Optional[str] = None):
        super().__init__()
        self.backbone = create_backbone(backbone, backbone_weights, features_only=True, in_chans=in_chans,
                                        **(backbone_kwargs or {}))
        reductions = self.backbone.feature_info.reduction()
        self.levels = [i for i, r in enumerate(reductions) if 4 <= r <= 32]
        if not self.levels or reductions[self.levels[0]] != 4:
            raise ValueError(f"{backbone} has no feature level at stride 4 (its strides: {reductions})")
        channels = self.backbone.feature_info.channels()
        self.neck = FPNNeck([channels[i] for i in self.levels], neck_channels)
        self.head = DBHead(self.neck.out_channels, k)

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        features = self.backbone(images)
        return self.head(self.neck([features[i] for i in self.levels]), images.shape[-2:])
