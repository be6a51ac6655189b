"""ReXNet and ReXNet-lite (Han et al., "Rethinking Channel Dimensions for Efficient Model Design", CVPR 2021).

Sec. 4: sixteen inverted bottlenecks in groups of 1, 2, 2, 3, 3, 5 blocks (strides 1, 2, 2, 2, 1, 2, so that
groups 3 and 4 share a feature level; expansion 1
in the first block, 6 after), whose output channels grow *linearly* with depth, from 16 by ``final / blocks``
per block, instead of in steps; a block whose output is at least as wide as its input adds its input to its
first channels (a partial residual). ReXNet (timm's ``rexnet_*``, the authors' ``rexnetv1.py``) uses SiLU after
the expansion and the stem, SE with BatchNorm (ratio 1/12) from the third group on, ReLU6 after the depthwise conv,
a 1x1 conv to 1280 x width and a linear classifier. ReXNet-lite (the authors' ``rexnetv1_lite.py``; no
installable reference) drops SE and SiLU (ReLU6 everywhere), rounds every width to a multiple of 8, grows by
164 over the fifteen steps, and ends with a pooled 1x1 conv to 1024 with BatchNorm and ReLU6 before the classifier.

A downsampling block that loses its stride (``stage_strides``, ``output_stride``) keeps no residual, as timm's
dilated ReXNet does, so its type and weights stay the same.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn
from timm.layers import DropPath

from ._base import LightNet
from ._registry import Variant, register_variants
from .layers import ConvBnAct, IntOrPair, LayerFactory, SqueezeExcite, make_divisible

GROUP_BLOCKS = (1, 2, 2, 3, 3, 5)
LEVEL_GROUPS = ((0,), (1,), (2,), (3, 4), (5,))  # feature levels: the groups that end at each reduction


class LinearBottleneck(nn.Module):
    """ReXNet's block: 1x1 expansion (none at expansion 1), 3x3 depthwise conv with BN, SE, ReLU6, linear 1x1
    projection; the input is added to the first ``in_chs`` output channels when it fits."""

    def __init__(self, in_chs: int, mid_chs: int, out_chs: int, stride: IntOrPair = 1, dilation: IntOrPair = 1,
                 se_channels: int = 0, exp_act_layer: LayerFactory = nn.SiLU, downsample: bool = False,
                 drop_path_rate: float = 0.0):
        super().__init__()
        self.in_chs = in_chs
        self.has_skip = not downsample and in_chs <= out_chs
        self.conv_exp = ConvBnAct(in_chs, mid_chs, 1, act_layer=exp_act_layer) if mid_chs != in_chs else nn.Identity()
        self.conv_dw = ConvBnAct(mid_chs, mid_chs, 3, stride, dilation, groups=mid_chs, act_layer=None)
        self.se = (SqueezeExcite(mid_chs, se_channels, gate_layer=nn.Sigmoid, norm_layer=nn.BatchNorm2d)
                   if se_channels else nn.Identity())
        self.act_dw = nn.ReLU6()
        self.conv_pwl = ConvBnAct(mid_chs, out_chs, 1, act_layer=None)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.out_channels = out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_pwl(self.act_dw(self.se(self.conv_dw(self.conv_exp(x)))))
        if self.has_skip:
            out = self.drop_path(out)
            out = torch.cat((out[:, :self.in_chs] + x, out[:, self.in_chs:]), 1)
        return out


def channel_schedule(width_mult: float, lite: bool) -> Tuple[int, List[int]]:
    """Stem width and block output widths: 16 growing linearly by ``final / steps`` per block (Sec. 4), scaled by
    the width and rounded (to a multiple of 8 for the lite version); below width 1 the start is not scaled down.
    The running sum is accumulated as the reference code does, so that halves round the same way."""
    blocks = sum(GROUP_BLOCKS)
    final, steps, divisor = (164, blocks - 1, 8) if lite else (180, blocks, 1)
    base = 16 / width_mult if width_mult < 1.0 else 16
    outs = []
    for _ in range(blocks):
        outs.append(make_divisible(round(base * width_mult), divisor))
        base += final / steps
    stem = make_divisible(round((32 / width_mult if width_mult < 1.0 else 32) * width_mult), divisor)
    return stem, outs


class ReXNet(LightNet):
    """ReXNet (``lite=False``) or ReXNet-lite at ``width_mult``."""

    def __init__(
            self,
            width_mult: float = 1.0,
            lite: bool = False,
            num_classes: int = 1000,
            in_chans: int = 3,
            drop_rate: float = 0.2,
            drop_path_rate: float = 0.0,
            global_pool: str = "avg",
            stage_strides: Optional[Sequence[IntOrPair]] = None,
            output_stride: Optional[int] = None,
    ):
        super().__init__(in_chans, num_classes, drop_rate)
        plans = self.plan(stage_strides, output_stride)
        act_layer = nn.ReLU6 if lite else nn.SiLU
        stem_chs, outs = channel_schedule(width_mult, lite)
        stride, dilation = plans[0].block(0)
        self.stem = ConvBnAct(in_chans, stem_chs, 3, stride, dilation, act_layer=act_layer)
        groups, first = [], 0
        for count in GROUP_BLOCKS:
            groups.append(range(first, first + count))
            first += count
        levels = [[(group, block_idx) for group in group_ids for block_idx in groups[group]]
                  for group_ids in LEVEL_GROUPS]

        def bottleneck(entry, in_chs, stride, dilation):
            group, block_idx = entry
            downsample = block_idx in first_of_level
            mid_chs = in_chs if block_idx == 0 else in_chs * 6
            se_chs = int(mid_chs * (1 / 12.0)) if not lite and group >= 2 else 0
            return LinearBottleneck(in_chs, mid_chs, outs[block_idx], stride, dilation, se_chs, act_layer, downsample,
                                    drop_path_rate * block_idx / (len(outs) - 1)), outs[block_idx]

        first_of_level = {entries[0][1] for entries in levels[1:]}  # the first block of levels 1-4 strides
        stages, in_chs = self.build_level_stages(plans, levels, bottleneck, stem_chs)
        self.stages = nn.Sequential(*stages)
        last_chs = (int(1280 * width_mult) if width_mult > 1 else 1280) if lite else make_divisible(1280 * width_mult, 1)
        self.init_head(last_chs, global_pool, final_conv=ConvBnAct(in_chs, last_chs, 1, act_layer=act_layer),
                       head_hidden_size=1024 if lite else None, head_norm_layer=nn.BatchNorm2d if lite else None,
                       head_act_layer=nn.ReLU6 if lite else None)


WIDTHS = (1.0, 1.3, 1.5, 2.0)

register_variants(__name__, ReXNet, "arXiv:2007.00992", {
    **{f"lo_rexnet_{round(w * 100)}": Variant(dict(width_mult=w), f"ReXNet {w}x (Table 3).",
                                             reference=f"timm:rexnet_{round(w * 100)}", cfg=dict(crop_pct=0.875))
       for w in WIDTHS},
    **{f"lo_rexnet_lite_{round(w * 100)}": Variant(dict(width_mult=w, lite=True), f"ReXNet-lite {w}x.")
       for w in WIDTHS},
})
