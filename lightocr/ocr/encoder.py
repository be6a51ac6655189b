"""OCR backbone adapter: any zoo network, or any timm ``features_only`` model, as a CRNN sequence encoder.

Zoo networks get stride ``(2, 1)`` in the late levels (as PaddleOCR's recognition MobileNetV3), so that a
32-pixel-high line leaves the last level at height 1 with ``width / 4`` columns. Other timm models keep their
own strides: choose the level (an earlier one keeps more columns). The remaining height is pooled away and
the columns become the time steps of a ``(batch, time, channels)`` sequence.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import timm
import torch
from torch import nn

from ..models import check_model_name, list_models
from ..models.layers import IntOrPair

# Strides of the five levels for text lines: both axes in the first two, then the height only.
TEXT_LINE_STRIDES: Sequence[IntOrPair] = (2, 2, (2, 1), (2, 1), (2, 1))


class BackboneEncoder(nn.Module):
    """Backbone -> height pooling -> sequence.

    Args:
        backbone: a zoo name (``lightocr.list_models()``) or any timm model name that supports ``features_only``.
        level: the feature level to read (``-1``: the last one the backbone has; an earlier one is cheaper).
        in_chans: image channels (1 for grayscale lines).
        stage_strides: zoo networks only; defaults to ``TEXT_LINE_STRIDES``.
        height_pool: ``avg`` or ``max`` over the remaining height.
        backbone_kwargs: passed to ``timm.create_model`` (``drop_path_rate``, ``output_stride``, ...).
    """

    def __init__(
            self,
            backbone: str = "lo_mobilenetv3_small_100",
            level: int = -1,
            in_chans: int = 3,
            stage_strides: Optional[Sequence[IntOrPair]] = None,
            height_pool: str = "avg",
            backbone_kwargs: Optional[Dict[str, Any]] = None,
    ):
        super().__init__()
        kwargs = dict(backbone_kwargs or {})
        is_zoo = backbone.startswith("lo_")
        if is_zoo:
            check_model_name(backbone)
            kwargs["stage_strides"] = tuple(stage_strides or TEXT_LINE_STRIDES)
        elif stage_strides is not None:
            raise ValueError(f"stage_strides is for lightocr backbones ({', '.join(list_models()[:3])}, ...); "
                             f"{backbone!r} keeps its own strides: choose `level` instead")
        if level < -1:
            raise ValueError(f"level must be -1 (the last) or a level index >= 0, got {level}")
        if level >= 0:
            kwargs["out_indices"] = (level,)  # timm then drops the layers after that level
        self.body = timm.create_model(backbone, features_only=True, in_chans=in_chans, pretrained=False, **kwargs)
        info = self.body.feature_info.get_dicts()[-1]
        self.backbone_name = backbone
        self.in_chans = in_chans
        self.out_channels: int = info["num_chs"]
        stride = info.get("stride", (info["reduction"], info["reduction"]))
        self.height_reduction, self.width_reduction = int(stride[0]), int(stride[1])
        if height_pool not in ("avg", "max"):
            raise ValueError(f"height_pool must be 'avg' or 'max', got {height_pool!r}")
        self.height_pool = height_pool

    def sequence_length(self, width: int) -> int:
        """Time steps for an input of ``width`` pixels (the strided convs round up)."""
        return -(-width // self.width_reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            raise ValueError(f"{self.backbone_name} encoder expects images of shape (batch, {self.in_chans}, H, W), "
                             f"got {tuple(x.shape)}; set in_chans (1: grayscale, 3: RGB) to match the data")
        features = self.body(x)[-1]
        features = features.mean(2) if self.height_pool == "avg" else features.amax(2)
        return features.transpose(1, 2)  # (batch, time, channels)
