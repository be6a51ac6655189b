"""SqueezeNet (Iandola et al., "SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB model
size", 2016), versions 1.0 (Table 1) and 1.1 (the authors' v1.1 release: a 3x3 stem of 64 and earlier pooling).

A convolution stem, Fire modules (Sec. 3.2: a 1x1 squeeze conv, then 1x1 and 3x3 expand convs concatenated; every
conv has a bias and ReLU, there is no BatchNorm) and max pools between them; the head is dropout, a 1x1 conv to
the classes with ReLU, then global average pooling (``conv10``, Sec. 3.3), with no linear layer. Layer for layer
equal to torchvision's ``squeezenet1_0`` and ``squeezenet1_1``, whose stem is unpadded and whose pools round up
(``ceil_mode``): at 224x224 the maps are 109 (1.0) or 111 (1.1), then 54/55, 27 and 13 pixels wide, not powers
of two. It has four feature levels, down to reduction 16.

A pool whose stride is removed on an axis (``stage_strides`` or ``output_stride``) pads that axis by one, so
that it keeps the size there as a stride-1 conv would; the 3x3 expand convs after it are dilated.
"""
from typing import Optional, Sequence, Tuple

import torch
from torch import nn

from ._base import ConvClassifier, LightNet, feature_entry
from ._registry import Variant, register_variants
from .layers import IntOrPair, same_padding, to_pair


class ConvRelu(nn.Module):
    """Convolution with bias and ReLU, no normalization: SqueezeNet's unit."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, stride: IntOrPair = 1,
                 padding: IntOrPair = 0, dilation: IntOrPair = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, to_pair(stride), to_pair(padding), to_pair(dilation))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Fire(nn.Module):
    """Fire module (Sec. 3.2, Fig. 1): squeeze to ``squeeze_chs``, expand to ``expand_chs`` with 1x1 and with 3x3
    convs, concatenated (``2 * expand_chs`` out)."""

    def __init__(self, in_chs: int, squeeze_chs: int, expand_chs: int, dilation: IntOrPair = 1):
        super().__init__()
        self.squeeze = ConvRelu(in_chs, squeeze_chs, 1)
        self.expand1x1 = ConvRelu(squeeze_chs, expand_chs, 1)
        self.expand3x3 = ConvRelu(squeeze_chs, expand_chs, 3, padding=same_padding(3, dilation), dilation=dilation)
        self.out_channels = 2 * expand_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return torch.cat((self.expand1x1(x), self.expand3x3(x)), 1)


MAX_POOL = ("max_pool",)


def max_pool(stride: Tuple[int, int]) -> nn.MaxPool2d:
    """The 3x3 max pool that opens a level: unpadded and rounding up at stride 2 (the reference's), padded by one
    on an axis whose stride a setting removed."""
    return nn.MaxPool2d(3, stride, padding=tuple(int(s == 1) for s in stride), ceil_mode=True)


class SqueezeNet(LightNet):
    """SqueezeNet; ``stem`` is ``(channels, kernel size)``, ``fires`` the ``(squeeze, expand)`` widths of the Fire
    modules of levels 1, 2 and 3 (each level opens with a max pool)."""

    num_levels = 4

    def __init__(
            self,
            stem: Tuple[int, int] = (96, 7),
            fires: Sequence[Sequence[Tuple[int, int]]] = (),
            num_classes: int = 1000,
            in_chans: int = 3,
            drop_rate: float = 0.5,
            global_pool: str = "avg",
            stage_strides: Optional[Sequence[IntOrPair]] = None,
            output_stride: Optional[int] = None,
    ):
        super().__init__(in_chans, num_classes, drop_rate)
        if len(fires) != self.num_levels - 1:
            raise ValueError(f"fires needs the Fire modules of levels 1-{self.num_levels - 1}, got {len(fires)} levels")
        plans = self.plan(stage_strides, output_stride)
        in_chs, kernel_size = stem
        self.stem = ConvRelu(in_chans, in_chs, kernel_size, plans[0].stride)
        self.feature_info = [feature_entry(in_chs, plans[0], 0)]  # level 0 is the stem alone

        def layer(entry, in_chs, stride, dilation):
            if entry is MAX_POOL:
                return max_pool(stride), in_chs
            fire = Fire(in_chs, *entry, dilation=dilation)
            return fire, fire.out_channels

        level_stages, in_chs = self.build_level_stages(plans, [[MAX_POOL, *rows] for rows in fires], layer, in_chs,
                                                       first_level=1)
        stages = [nn.Sequential(), *level_stages]
        self.stages = nn.Sequential(*stages)
        self.init_head(in_chs, global_pool, conv_classifier=True)

    def init_weights(self) -> None:
        """torchvision's SqueezeNet initialization (no BatchNorm to rescale): Kaiming-uniform convs, zero biases,
        and a small normal classifier (std 0.01)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        if isinstance(self.classifier, ConvClassifier):
            nn.init.normal_(self.classifier.conv.weight, 0, 0.01)


# (stem channels, kernel), then the (squeeze, expand) widths of the Fire modules of each level after the stem
SQUEEZENET_ARCH = {
    "1_0": dict(stem=(96, 7), fires=(
        ((16, 64), (16, 64), (32, 128)),
        ((32, 128), (48, 192), (48, 192), (64, 256)),
        ((64, 256),))),
    "1_1": dict(stem=(64, 3), fires=(
        ((16, 64), (16, 64)),
        ((32, 128), (32, 128)),
        ((48, 192), (48, 192), (64, 256), (64, 256)))),
}

register_variants(__name__, SqueezeNet, "arXiv:1602.07360", {
    f"lo_squeezenet{version}": Variant(
        arch, f"SqueezeNet {version.replace('_', '.')}.", reference=f"torchvision:squeezenet{version}",
        cfg=dict(pool_size=(13, 13), classifier="classifier.conv"))
    for version, arch in SQUEEZENET_ARCH.items()})
