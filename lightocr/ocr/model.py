"""CRNN (Shi et al., "An End-to-End Trainable Neural Network for Image-based Sequence Recognition", 2017):
encoder -> sequence neck -> CTC head, each part wired from the ``out_channels`` of the one before."""
from typing import Any, Dict, Optional, Sequence

import torch
from torch import nn

from .ctc import CTCHead
from .encoder import BackboneEncoder
from .neck import build_neck


class CRNN(nn.Module):
    """Text recognizer returning CTC logits ``(batch, time, num_classes)``.

    Args:
        num_classes: charset size plus one (the blank).
        backbone, level, in_chans, stage_strides, backbone_kwargs: see ``BackboneEncoder``; ``backbone_weights``
            is its ``weights``.
        neck: ``bilstm``, ``linear`` or ``none``; ``neck_kwargs`` e.g. ``{"hidden_size": 96, "num_layers": 2}``.
    """

    def __init__(
            self,
            num_classes: int,
            backbone: str = "lo_mobilenetv3_small_100",
            level: int = -1,
            in_chans: int = 3,
            stage_strides: Optional[Sequence[Any]] = None,
            backbone_kwargs: Optional[Dict[str, Any]] = None,
            neck: str = "bilstm",
            neck_kwargs: Optional[Dict[str, Any]] = None,
            head_dropout: float = 0.0,
            backbone_weights: Optional[str] = None,
    ):
        super().__init__()
        self.encoder = BackboneEncoder(backbone, level=level, in_chans=in_chans, stage_strides=stage_strides,
                                       backbone_kwargs=backbone_kwargs, weights=backbone_weights)
        self.neck = build_neck(neck, self.encoder.out_channels, **(neck_kwargs or {}))
        self.head = CTCHead(self.neck.out_channels, num_classes, dropout=head_dropout)

    def sequence_lengths(self, widths: torch.Tensor) -> torch.Tensor:
        """Valid time steps of images whose content is ``widths`` pixels wide (the rest is padding), as the
        encoder measures them."""
        return self.encoder.sequence_lengths(widths)

    def forward(self, images: torch.Tensor, widths: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``widths``: each image's width before right padding (None: no padding); the neck then ignores the
        padded time steps."""
        features = self.encoder(images)
        lengths = None if widths is None else self.sequence_lengths(widths).clamp(max=features.shape[1])
        return self.head(self.neck(features, lengths))
