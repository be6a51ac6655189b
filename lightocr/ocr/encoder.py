"""OCR backbone adapter: any zoo network, or any timm ``features_only`` model, as a CRNN sequence encoder.

Zoo networks get stride ``(2, 1)`` in every level after the second (as PaddleOCR's recognition MobileNetV3), so
that a 32-pixel-high line leaves the last level at height 1 with about ``width / 4`` columns. Other timm models
keep their own strides: choose the level (an earlier one keeps more columns). The remaining height is pooled away
and the columns become the time steps of a ``(batch, time, channels)`` sequence.

The number of time steps is measured, not assumed: the backbone's own layers are run on shapes only (a copy on
PyTorch's ``meta`` device), so unpadded stems and pools that round up (SqueezeNet) give the right CTC lengths.
A chain of convolutions and pools maps a width ``w`` to ``floor((w + a) / R) + b``, with ``R`` the width
reduction, so ``R`` consecutive widths give every other (checked at one far width when the encoder is built).
Lines narrower than the backbone can take are padded on the right up to ``min_width``.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ..models import check_model_name, create_backbone, feature_levels, list_models
from ..models.layers import IntOrPair

PROBE_HEIGHT = 64  # enough for every zoo network; the output width does not depend on it
MAX_MIN_WIDTH = 256


def text_line_strides(levels: int) -> Tuple[IntOrPair, ...]:
    """Strides for text lines: both axes in the first two levels, then the height only."""
    return (2, 2) + ((2, 1),) * (levels - 2)


class BackboneEncoder(nn.Module):
    """Backbone -> height pooling -> sequence.

    Args:
        backbone: a zoo name (``lightocr.list_models()``) or any timm model name that supports ``features_only``.
        level: the feature level to read (``-1``: the last one the backbone has; an earlier one is cheaper).
        in_chans: image channels (1 for grayscale lines).
        stage_strides: zoo networks only, one per level of the family; defaults to ``text_line_strides``.
        height_pool: ``avg`` or ``max`` over the remaining height.
        backbone_kwargs: passed to ``timm.create_model`` (``drop_path_rate``, ``output_stride``, ...).
        weights: a torchvision, timm or lightocr file to start the backbone from (``create_backbone``).
    """

    def __init__(
            self,
            backbone: str = "lo_mobilenetv3_small_100",
            level: int = -1,
            in_chans: int = 3,
            stage_strides: Optional[Sequence[IntOrPair]] = None,
            height_pool: str = "avg",
            backbone_kwargs: Optional[Dict[str, Any]] = None,
            weights: Optional[str] = None,
    ):
        super().__init__()
        kwargs = dict(backbone_kwargs or {})
        is_zoo = backbone.startswith("lo_")
        if is_zoo:
            check_model_name(backbone)
            kwargs["stage_strides"] = tuple(stage_strides or text_line_strides(feature_levels(backbone)))
        elif stage_strides is not None:
            raise ValueError(f"stage_strides is for lightocr backbones ({', '.join(list_models()[:3])}, ...); "
                             f"{backbone!r} keeps its own strides: choose `level` instead")
        if level < -1:
            raise ValueError(f"level must be -1 (the last) or a level index >= 0, got {level}")
        if level >= 0:
            kwargs["out_indices"] = (level,)  # timm then drops the layers after that level
        self.body = create_backbone(backbone, weights, features_only=True, in_chans=in_chans, **kwargs)
        info = self.body.feature_info.get_dicts()[-1]
        self.backbone_name = backbone
        self.in_chans = in_chans
        self.out_channels: int = info["num_chs"]
        stride = info.get("stride", (info["reduction"], info["reduction"]))
        # nominal strides; the real number of columns is measured (sequence_length)
        self.height_reduction, self.width_reduction = int(stride[0]), int(stride[1])
        if height_pool not in ("avg", "max"):
            raise ValueError(f"height_pool must be 'avg' or 'max', got {height_pool!r}")
        self.height_pool = height_pool
        self._shape_probe = [copy.deepcopy(self.body).to("meta").eval()]  # a list: not a submodule, never moved
        self.min_width = next((w for w in range(1, MAX_MIN_WIDTH + 1) if self._measure(w) > 0), None)
        if self.min_width is None:
            raise ValueError(f"{backbone} gives no output column for lines up to {MAX_MIN_WIDTH} pixels wide")
        period = self.width_reduction
        self._first_columns = torch.tensor([self._measure(self.min_width + i) for i in range(period)])
        far = self.min_width + 7 * period + period // 2
        if self.sequence_length(far) != self._measure(far):
            raise ValueError(f"{backbone}: the number of output columns does not grow by one every {period} pixels "
                             f"of width; it cannot serve as a line encoder")

    def _measure(self, width: int) -> int:
        """Output columns of the backbone for an input ``width`` pixels wide (0 where it cannot take it)."""
        probe = torch.empty(1, self.in_chans, PROBE_HEIGHT, width, device="meta")
        try:
            with torch.no_grad():
                return int(self._shape_probe[0](probe)[-1].shape[-1])
        except RuntimeError:  # a kernel larger than the map
            return 0

    def sequence_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        """Time steps of lines ``widths`` pixels wide (narrower than ``min_width``: padded up to it)."""
        offset = widths.long().clamp_min(self.min_width) - self.min_width
        period = self.width_reduction
        return self._first_columns.to(widths.device)[offset % period] + torch.div(offset, period,
                                                                                   rounding_mode="floor")

    def sequence_length(self, width: int) -> int:
        """``sequence_lengths`` of one width."""
        return int(self.sequence_lengths(torch.tensor([width]))[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"{self.backbone_name} encoder expects images of shape (batch, {self.in_chans}, H, W), "
                             f"got {tuple(x.shape)}; set in_chans (1: grayscale, 3: RGB) to match the data")
        if x.shape[-1] < self.min_width:
            x = F.pad(x, (0, self.min_width - x.shape[-1]))
        features = self.body(x)[-1]
        features = features.mean(2) if self.height_pool == "avg" else features.amax(2)
        return features.transpose(1, 2)  # (batch, time, channels)
