"""Building blocks shared by the zoo's network families.

Every family file imports its blocks from here, never from a sibling family file. Each block takes
``stride`` and ``dilation`` either as an int or as a ``(height, width)`` pair, so that a stage can
downsample only the height (the ``(2, 1)`` strides that text recognizers use to keep the width).
"""

from typing import Callable, Optional, Tuple, Union

import torch
from torch import nn
from timm.layers import DropPath

IntOrPair = Union[int, Tuple[int, int]]
LayerFactory = Callable[..., nn.Module]


def to_pair(value: IntOrPair) -> Tuple[int, int]:
    """``2 -> (2, 2)``; a pair is returned as a tuple."""
    if isinstance(value, int):
        return value, value
    height, width = value
    return int(height), int(width)


def make_divisible(value: float, divisor: int = 8, min_value: Optional[int] = None, round_limit: float = 0.9) -> int:
    """Round a channel count to a multiple of ``divisor``, never dropping below ``round_limit`` of it.

    The rule of the MobileNetV2 reference code (TF-slim ``_make_divisible``), which torchvision and timm share.
    """
    min_value = min_value or divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < round_limit * value:
        new_value += divisor
    return new_value


def same_padding(kernel_size: IntOrPair, dilation: IntOrPair = 1) -> Tuple[int, int]:
    """Symmetric padding that keeps the size at stride 1 for an odd kernel."""
    kh, kw = to_pair(kernel_size)
    dh, dw = to_pair(dilation)
    return (kh - 1) // 2 * dh, (kw - 1) // 2 * dw


class ConvBnAct(nn.Module):
    """Convolution (no bias), BatchNorm and an optional activation: the unit of every zoo network. ``padding``
    defaults to "same" (``same_padding``); Xception's original stem has none (``padding=0``)."""

    def __init__(
            self,
            in_chs: int,
            out_chs: int,
            kernel_size: IntOrPair = 1,
            stride: IntOrPair = 1,
            dilation: IntOrPair = 1,
            groups: int = 1,
            act_layer: Optional[LayerFactory] = nn.ReLU,
            norm_layer: LayerFactory = nn.BatchNorm2d,
            padding: Optional[IntOrPair] = None,
    ):
        super().__init__()
        padding = same_padding(kernel_size, dilation) if padding is None else to_pair(padding)
        self.conv = nn.Conv2d(
            in_chs, out_chs, kernel_size, stride=to_pair(stride), padding=padding,
            dilation=to_pair(dilation), groups=groups, bias=False)
        self.bn = norm_layer(out_chs)
        self.act = act_layer(inplace=True) if act_layer is not None else nn.Identity()
        self.out_channels = out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """Squeeze-and-Excitation (Hu et al. 2018) as used by MobileNetV3 (Sec. 5.3): pool, reduce, act, expand, gate;
    ReXNet adds BatchNorm after the reduction (``norm_layer``) and gates with a sigmoid."""

    def __init__(
            self,
            channels: int,
            rd_channels: int,
            act_layer: LayerFactory = nn.ReLU,
            gate_layer: LayerFactory = nn.Hardsigmoid,
            norm_layer: Optional[LayerFactory] = None,
    ):
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, rd_channels, 1, bias=True)
        self.bn = norm_layer(rd_channels) if norm_layer is not None else nn.Identity()
        self.act = act_layer(inplace=True)
        self.conv_expand = nn.Conv2d(rd_channels, channels, 1, bias=True)
        self.gate = gate_layer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.conv_expand(self.act(self.bn(self.conv_reduce(scale))))
        return x * self.gate(scale)


class DepthwiseSeparable(nn.Module):
    """Depthwise 3x3 then pointwise 1x1, each with BN and an optional activation (MobileNetV1, Sec. 3.1, Fig. 3;
    the separable convolution of DeepLab's aligned Xception, without activation inside its pre-activated blocks)."""

    def __init__(
            self,
            in_chs: int,
            out_chs: int,
            kernel_size: int = 3,
            stride: IntOrPair = 1,
            dilation: IntOrPair = 1,
            act_layer: Optional[LayerFactory] = nn.ReLU,
            norm_layer: LayerFactory = nn.BatchNorm2d,
    ):
        super().__init__()
        self.conv_dw = ConvBnAct(in_chs, in_chs, kernel_size, stride, dilation, groups=in_chs, act_layer=act_layer,
                                 norm_layer=norm_layer)
        self.conv_pw = ConvBnAct(in_chs, out_chs, 1, act_layer=act_layer, norm_layer=norm_layer)
        self.out_channels = out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_pw(self.conv_dw(x))


class InvertedResidual(nn.Module):
    """Inverted residual with linear bottleneck (MobileNetV2, Sec. 3.3, Table 1), optionally with SE (MobileNetV3).

    Order: 1x1 expansion (skipped when ``mid_chs == in_chs``), depthwise conv, SE on the expanded features,
    then a *linear* 1x1 projection: BN and no activation. The identity shortcut exists only at stride 1 with
    equal input and output channels.
    """

    def __init__(
            self,
            in_chs: int,
            mid_chs: int,
            out_chs: int,
            kernel_size: int = 3,
            stride: IntOrPair = 1,
            dilation: IntOrPair = 1,
            act_layer: LayerFactory = nn.ReLU6,
            se_channels: int = 0,
            se_gate_layer: LayerFactory = nn.Hardsigmoid,
            norm_layer: LayerFactory = nn.BatchNorm2d,
            drop_path_rate: float = 0.0,
    ):
        super().__init__()
        self.has_skip = to_pair(stride) == (1, 1) and in_chs == out_chs
        self.conv_pw = (ConvBnAct(in_chs, mid_chs, 1, act_layer=act_layer, norm_layer=norm_layer)
                        if mid_chs != in_chs else nn.Identity())
        self.conv_dw = ConvBnAct(mid_chs, mid_chs, kernel_size, stride, dilation, groups=mid_chs,
                                 act_layer=act_layer, norm_layer=norm_layer)
        self.se = SqueezeExcite(mid_chs, se_channels, gate_layer=se_gate_layer) if se_channels else nn.Identity()
        self.conv_pwl = ConvBnAct(mid_chs, out_chs, 1, act_layer=None, norm_layer=norm_layer)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.out_channels = out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_pwl(self.se(self.conv_dw(self.conv_pw(x))))
        if self.has_skip:
            x = self.drop_path(x) + shortcut
        return x



def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle (Zhang et al. 2018, Sec. 3.1): view the channels as ``(groups, channels //
    groups)``, transpose and flatten, so that channel ``j`` of group ``g`` lands at ``j * groups + g``."""
    return x.unflatten(1, (groups, -1)).transpose(1, 2).flatten(1, 2)
