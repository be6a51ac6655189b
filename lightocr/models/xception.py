"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017) and DeepLab's
aligned Xception-65 (Chen et al., "Encoder-Decoder with Atrous Separable Convolution for Semantic Image
Segmentation", ECCV 2018, Sec. 3.3 and Fig. 4).

**Xception** (Fig. 5): an unpadded 3x3 stride-2 stem conv and an unpadded 3x3 conv, an entry flow of three
residual blocks that end in a 3x3 stride-2 max pool (1x1 strided conv shortcut), a middle flow of eight blocks of
three ReLU-separable conv-BN units, an exit block to 1024, then separable convs to 1536 and 2048 with ReLU,
global pooling and a linear classifier. The separable conv has no BatchNorm between its depthwise and pointwise
parts. Layer for layer equal to timm's ``legacy_xception``. Its levels are the outputs of the stem's second conv
(64, stride 2), of blocks 1 and 2 (128 and 256, strides 4 and 8), of the middle flow (728, 16) and of the exit
flow (2048, 32); the stride-4 one (block 1) is its low-level feature for DeepLabv3+.

**Aligned Xception-65** (DeepLab): "same" padding everywhere, every max pool replaced by a strided separable
conv (the last of its block), BatchNorm and ReLU after each depthwise conv in the exit flow, sixteen middle-flow
blocks. Layer for layer equal to timm's ``xception65``, with BatchNorm eps 1e-3. Its feature levels are taken as
DeepLab takes them: inside each strided block, at the input of its strided separable conv (the richest map at
that resolution): 128 at stride 2, 256 at stride 4 (the low-level feature of DeepLabv3+'s decoder), 728 at 8,
1024 at 16, and the final 2048 at 32.

``output_stride`` 16 or 8 removes strides as DeepLab does: the block that would stride keeps its kernels at the
dilation it had, the blocks after it dilate (a max pool that loses its stride keeps its 3x3 window).
"""
import itertools
from functools import partial
from typing import Optional, Sequence, Tuple

import torch
from torch import nn
from timm.data import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD
from timm.layers import DropPath

from ._base import LightNet, feature_entry
from ._registry import Variant, register_variants
from .layers import ConvBnAct, DepthwiseSeparable, IntOrPair, LayerFactory, same_padding, to_pair


class SeparableConv(nn.Module):
    """Xception's separable convolution (Sec. 2): a depthwise 3x3 then a pointwise 1x1, nothing in between."""

    def __init__(self, in_chs: int, out_chs: int, dilation: IntOrPair = 1):
        super().__init__()
        self.conv_dw = nn.Conv2d(in_chs, in_chs, 3, padding=same_padding(3, dilation), dilation=to_pair(dilation),
                                 groups=in_chs, bias=False)
        self.conv_pw = nn.Conv2d(in_chs, out_chs, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_pw(self.conv_dw(x))


class XceptionBlock(nn.Module):
    """A residual block of Fig. 5: ``repeats`` x (ReLU, separable conv, BN), then a 3x3 max pool when it strides;
    the shortcut is a strided 1x1 conv with BN where the shape changes. ``grow_first=False`` widens in the last
    unit instead of the first (the exit block)."""

    def __init__(self, in_chs: int, out_chs: int, repeats: int, stride: IntOrPair = 1, dilation: IntOrPair = 1,
                 start_with_relu: bool = True, grow_first: bool = True, downsample: bool = False):
        super().__init__()
        self.skip = (ConvBnAct(in_chs, out_chs, 1, stride, act_layer=None)
                     if downsample or in_chs != out_chs else None)
        units = []
        for index in range(repeats):
            unit_in = in_chs if index == 0 or not grow_first else out_chs
            unit_out = out_chs if grow_first or index == repeats - 1 else in_chs
            if start_with_relu or index > 0:  # the first ReLU must keep the input intact for the shortcut
                units.append(nn.ReLU(inplace=index > 0))
            units += [SeparableConv(unit_in, unit_out, dilation), nn.BatchNorm2d(unit_out)]
        if downsample:
            units.append(nn.MaxPool2d(3, to_pair(stride), padding=1))
        self.rep = nn.Sequential(*units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.skip(x) if self.skip is not None else x
        return self.rep(x) + shortcut


class SeparableConvBnAct(nn.Module):
    """The exit flow's separable conv, BN and ReLU."""

    def __init__(self, in_chs: int, out_chs: int, dilation: IntOrPair = 1):
        super().__init__()
        self.conv = SeparableConv(in_chs, out_chs, dilation)
        self.bn = nn.BatchNorm2d(out_chs)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Xception(LightNet):
    """Chollet's Xception (Fig. 5)."""

    low_level_level = 1

    def __init__(
            self,
            num_classes: int = 1000,
            in_chans: int = 3,
            drop_rate: float = 0.0,
            global_pool: str = "avg",
            stage_strides: Optional[Sequence[IntOrPair]] = None,
            output_stride: Optional[int] = None,
    ):
        super().__init__(in_chans, num_classes, drop_rate)
        plans = self.plan(stage_strides, output_stride)
        self.stem = ConvBnAct(in_chans, 32, 3, plans[0].stride, padding=0)
        stages = [nn.Sequential(ConvBnAct(32, 64, 3, padding=0))]
        self.feature_info = [feature_entry(64, plans[0], 0)]

        def layer(entry, in_chs, stride, dilation):
            kind, level, out_chs = entry
            if kind == "strided":
                return XceptionBlock(in_chs, out_chs, 2, stride, dilation, start_with_relu=level > 1,
                                     grow_first=level < 4, downsample=True), out_chs
            if kind == "middle":
                return XceptionBlock(in_chs, out_chs, 3, dilation=dilation), out_chs
            return SeparableConvBnAct(in_chs, out_chs, dilation), out_chs  # the exit flow's separable convs

        # each level's strided block, then the blocks that follow it at its width
        levels = [[("strided", level, out_chs)] + [("middle", level, out_chs)] * middle
                  for level, (out_chs, middle) in enumerate(((128, 0), (256, 0), (728, 8), (1024, 0)), 1)]
        levels[-1] += [("exit", 4, 1536), ("exit", 4, 2048)]
        level_stages, in_chs = self.build_level_stages(plans, levels, layer, 64, first_level=1)
        self.stages = nn.Sequential(*stages, *level_stages)
        self.init_head(in_chs, global_pool)


class AlignedXceptionBlock(nn.Module):
    """An aligned Xception block (DeepLab, Fig. 4): three separable convs, the last one strided, with a 1x1
    strided conv-BN shortcut where the shape changes. Pre-activated (ReLU before each separable conv, none inside
    it) unless ``start_with_relu=False`` (the last exit-flow block: ReLU after each BN, and no shortcut)."""

    def __init__(self, in_chs: int, out_chs: Tuple[int, int, int], stride: IntOrPair = 1, dilation: IntOrPair = 1,
                 start_with_relu: bool = True, residual: bool = True, downsample: bool = False,
                 norm_layer: LayerFactory = nn.BatchNorm2d, drop_path_rate: float = 0.0):
        super().__init__()
        self.residual = residual
        self.shortcut = (ConvBnAct(in_chs, out_chs[-1], 1, stride, act_layer=None, norm_layer=norm_layer)
                         if residual and (downsample or in_chs != out_chs[-1]) else None)
        self.stack = nn.Sequential()
        for index, unit_out in enumerate(out_chs):
            if start_with_relu:
                self.stack.add_module(f"act{index + 1}", nn.ReLU(inplace=index > 0))
            self.stack.add_module(f"conv{index + 1}", DepthwiseSeparable(
                in_chs, unit_out, 3, stride if index == 2 else 1, dilation,
                act_layer=None if start_with_relu else nn.ReLU, norm_layer=norm_layer))
            in_chs = unit_out
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.out_channels = out_chs[-1]

    def _add_shortcut(self, x: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        if not self.residual:
            return x
        shortcut = self.shortcut(inputs) if self.shortcut is not None else inputs
        return self.drop_path(x) + shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._add_shortcut(self.stack(x), x)

    def forward_with_tap(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The block's output and its feature tap: the input of its last (strided) separable conv."""
        tap = self.stack[:-1](x)
        return self._add_shortcut(self.stack[-1](tap), x), tap

    def prune_to_tap(self) -> None:
        """Keep the layers up to the tap only: the block then outputs the tap."""
        self.stack[-1] = nn.Identity()
        self.residual, self.shortcut = False, None


class XceptionAligned(LightNet):
    """DeepLab's aligned Xception; ``middle_blocks`` is 16 for Xception-65."""

    low_level_level = 1

    def __init__(
            self,
            middle_blocks: int = 16,
            num_classes: int = 1000,
            in_chans: int = 3,
            drop_rate: float = 0.0,
            drop_path_rate: float = 0.0,
            global_pool: str = "avg",
            stage_strides: Optional[Sequence[IntOrPair]] = None,
            output_stride: Optional[int] = None,
            bn_eps: float = 1e-3,
    ):
        super().__init__(in_chans, num_classes, drop_rate)
        norm_layer = partial(nn.BatchNorm2d, eps=bn_eps)
        plans = self.plan(stage_strides, output_stride)
        self.stem = ConvBnAct(in_chans, 32, 3, plans[0].stride, norm_layer=norm_layer)
        stages = [nn.Sequential(ConvBnAct(32, 64, 3, norm_layer=norm_layer))]
        num_blocks, order = 5 + middle_blocks, itertools.count()

        def layer(entry, in_chs, stride, dilation):
            widths, options = entry
            drop_path = drop_path_rate * next(order) / (num_blocks - 1) if options.get("residual", True) else 0.0
            block = AlignedXceptionBlock(in_chs, widths, stride, dilation, norm_layer=norm_layer,
                                         drop_path_rate=drop_path, **options)
            return block, block.out_channels

        # each level's strided block (its widths), then the blocks that follow it at its width
        levels = [[(widths, dict(downsample=True))] + [((widths[-1],) * 3, {})] * middle for widths, middle in
                  (((128,) * 3, 0), ((256,) * 3, 0), ((728,) * 3, middle_blocks), ((728, 1024, 1024), 0))]
        levels[-1].append(((1536, 1536, 2048), dict(start_with_relu=False, residual=False)))  # the exit flow's end
        level_stages, in_chs = self.build_level_stages(plans, levels, layer, 64, first_level=1,
                                                       record_features=False)
        # each level's feature is the input of the next level's strided separable conv, inside its first block
        self.feature_info = [feature_entry(widths[1], plans[level], level, module=f"stages.{level + 1}.0.stack.act3")
                             for level, ((widths, _), *_) in enumerate(levels)]
        self.feature_info.append(feature_entry(in_chs, plans[4], 4))
        self.tapped_levels = (0, 1, 2, 3)
        self.stages = nn.Sequential(*stages, *level_stages)
        self.init_head(in_chs, global_pool)


XCEPTION_CFG = dict(input_size=(3, 299, 299), pool_size=(10, 10), interpolation="bicubic",
                    mean=IMAGENET_INCEPTION_MEAN, std=IMAGENET_INCEPTION_STD)

register_variants(__name__, Xception, "arXiv:1610.02357", {
    "lo_xception": Variant({}, "Xception (Fig. 5), input 299.", reference="timm:legacy_xception",
                           cfg=dict(XCEPTION_CFG, crop_pct=0.8975)),
})
register_variants(__name__, XceptionAligned, "arXiv:1802.02611", {
    "lo_xception65": Variant({}, "DeepLab's aligned Xception-65 (Fig. 4), input 299.", reference="timm:xception65",
                             cfg=dict(XCEPTION_CFG, crop_pct=0.903)),
})
