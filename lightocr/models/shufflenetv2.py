"""ShuffleNetV2 (Ma et al., "ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design",
ECCV 2018).

Table 5: a 3x3 stride-2 stem and a 3x3 max pool, three stages of 4, 8 and 4 units, a 1x1 conv (``conv5``),
global average pooling and a linear classifier. A basic unit (Fig. 3c) splits the channels in two halves, keeps
one and runs the other through 1x1, 3x3 depthwise and 1x1 convs; the downsampling unit (Fig. 3d) runs both
branches on the whole input (its left branch: 3x3 depthwise then 1x1). Both concatenate the branches and end
with the channel shuffle of two groups. Layer for layer equal to torchvision's ``shufflenet_v2_x*``.

The downsampling unit stays a two-branch unit where ``stage_strides`` or ``output_stride`` removes its stride
(its depthwise convs are then dilated), so converted weights still load.
"""
from typing import Optional, Sequence

import torch
from torch import nn

from ._base import LightNet
from ._registry import Variant, register_variants
from .layers import ConvBnAct, IntOrPair, channel_shuffle

STAGE_REPEATS = (4, 8, 4)


class ShuffleV2Unit(nn.Module):
    """ShuffleNetV2 unit: Fig. 3c (channel split) or, when ``downsample``, Fig. 3d (both branches on the input)."""

    def __init__(self, in_chs: int, out_chs: int, downsample: bool, stride: IntOrPair = 1,
                 dilation: IntOrPair = 1):
        super().__init__()
        branch_chs = out_chs // 2
        if not downsample and in_chs != out_chs:
            raise ValueError(f"a channel-split unit keeps its width: {in_chs} in, {out_chs} out")
        self.downsample = downsample
        self.branch1 = nn.Sequential(
            ConvBnAct(in_chs, in_chs, 3, stride, dilation, groups=in_chs, act_layer=None),
            ConvBnAct(in_chs, branch_chs, 1),
        ) if downsample else nn.Identity()
        self.branch2 = nn.Sequential(
            ConvBnAct(in_chs if downsample else branch_chs, branch_chs, 1),
            ConvBnAct(branch_chs, branch_chs, 3, stride, dilation, groups=branch_chs, act_layer=None),
            ConvBnAct(branch_chs, branch_chs, 1),
        )
        self.out_channels = out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample:
            out = torch.cat((self.branch1(x), self.branch2(x)), 1)
        else:
            kept, processed = x.chunk(2, dim=1)
            out = torch.cat((kept, self.branch2(processed)), 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(LightNet):
    """ShuffleNetV2; ``stage_channels`` is ``(stem, stage 2, stage 3, stage 4, conv5)`` (Table 5)."""

    def __init__(
            self,
            stage_channels: Sequence[int] = (24, 116, 232, 464, 1024),
            num_classes: int = 1000,
            in_chans: int = 3,
            drop_rate: float = 0.0,
            global_pool: str = "avg",
            stage_strides: Optional[Sequence[IntOrPair]] = None,
            output_stride: Optional[int] = None,
    ):
        super().__init__(in_chans, num_classes, drop_rate)
        if len(stage_channels) != 2 + len(STAGE_REPEATS):
            raise ValueError(f"stage_channels needs {2 + len(STAGE_REPEATS)} entries (stem, stages 2-4, conv5), got "
                             f"{tuple(stage_channels)!r}")
        plans = self.plan(stage_strides, output_stride)
        stem_chs, *stage_chs, last_chs = stage_channels
        stages = self.init_pooled_stem(in_chans, stem_chs, plans)

        def unit(entry, in_chs, stride, dilation):
            out_chs, first = entry
            return ShuffleV2Unit(in_chs, out_chs, downsample=first, stride=stride, dilation=dilation), out_chs

        levels = [[(out_chs, index == 0) for index in range(repeats)]
                  for out_chs, repeats in zip(stage_chs, STAGE_REPEATS)]
        level_stages, in_chs = self.build_level_stages(plans, levels, unit, stem_chs, first_level=2)
        stages += level_stages
        self.stages = nn.Sequential(*stages)
        self.init_head(last_chs, global_pool, final_conv=ConvBnAct(in_chs, last_chs, 1))


# width multiplier -> (stem, stage 2, stage 3, stage 4, conv5) channels, Table 5
SHUFFLENETV2_CHANNELS = {
    0.5: (24, 48, 96, 192, 1024),
    1.0: (24, 116, 232, 464, 1024),
    1.5: (24, 176, 352, 704, 1024),
    2.0: (24, 244, 488, 976, 2048),
}

register_variants(__name__, ShuffleNetV2, "arXiv:1807.11164", {
    f"lo_shufflenetv2_{round(width * 100):03d}": Variant(
        dict(stage_channels=channels), f"ShuffleNetV2 {width}x (Table 5).",
        reference=f"torchvision:shufflenet_v2_x{str(width).replace('.', '_')}")
    for width, channels in SHUFFLENETV2_CHANNELS.items()})
