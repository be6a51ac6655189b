"""ShuffleNetV1 (Zhang et al., "ShuffleNet: An Extremely Efficient Convolutional Neural Network for Mobile
Devices", CVPR 2018).

The ImageNet network of Table 1: a 3x3 stride-2 stem and a 3x3 max pool, three stages of 4, 8 and 4 ShuffleNet
units (Sec. 3.2, Fig. 2), global average pooling and a linear classifier. A unit is a grouped 1x1 conv with
a bottleneck a quarter of the stage's width, a 3x3 depthwise conv, the channel shuffle and a grouped linear 1x1
conv; stride-2 units concatenate a 3x3 average-pooled shortcut, the others add the identity. The first 1x1
conv of stage 2 is not grouped (its input has only 24 channels).

Layer for layer equal to the authors' PyTorch release (megvii-model/ShuffleNet-Series, ``ShuffleNetV1``) for
g = 3 and g = 8 at every width, including its two departures from the figure: the shuffle comes after the
depthwise conv (a per-channel op, so only the weights' order differs), and it views the channels as
``(channels / g, g)`` before transposing, the inverse of the paper's ``(g, channels / g)``; both send every
group's channels to every group, and the release's order keeps its weights valid. The classifier has no bias,
as there. g = 1, 2, 4 take Table 1's channels.

Strides removed by a setting (``stage_strides``, ``output_stride``): the unit stays a concatenating unit (its
weights still load), its depthwise conv is dilated instead and its average-pool shortcut runs at stride 1; a
pooling shortcut has no dilation, so it keeps averaging 3x3 neighbourhoods.
"""
import itertools
from typing import Iterator, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from timm.layers import DropPath

from ._base import LightNet
from ._registry import Variant, register_variants
from .layers import ConvBnAct, IntOrPair, channel_shuffle

STAGE_REPEATS = (4, 8, 4)
MAX_GROUPS = 16


class ShuffleV1Unit(nn.Module):
    """ShuffleNet unit (Fig. 2b at stride 1, 2c when ``downsample``)."""

    def __init__(
            self,
            in_chs: int,
            out_chs: int,
            groups: int,
            downsample: bool,
            stride: IntOrPair = 1,
            dilation: IntOrPair = 1,
            group_first_conv: bool = True,
            drop_path_rate: float = 0.0,
    ):
        super().__init__()
        mid_chs = out_chs // 4
        self.downsample = downsample
        self.groups = groups
        self.shuffle_groups = mid_chs // groups  # the release's (channels / g, g) view
        self.conv_pw = ConvBnAct(in_chs, mid_chs, 1, groups=groups if group_first_conv else 1)
        self.conv_dw = ConvBnAct(mid_chs, mid_chs, 3, stride, dilation, groups=mid_chs, act_layer=None)
        self.conv_pwl = ConvBnAct(mid_chs, out_chs - in_chs if downsample else out_chs, 1, groups=groups,
                                  act_layer=None)
        self.shortcut = nn.AvgPool2d(3, stride, padding=1) if downsample else nn.Identity()
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.out_channels = out_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.conv_dw(self.conv_pw(x))
        if self.groups > 1:
            main = channel_shuffle(main, self.shuffle_groups)
        main = self.conv_pwl(main)
        if self.downsample:
            return torch.cat((self.shortcut(x), F.relu(main)), 1)
        return F.relu(self.drop_path(main) + x)


def grouped_widths(stage_channels: Sequence[int]) -> Iterator[int]:
    """Every channel count that a grouped conv of the network splits into groups."""
    in_chs = stage_channels[0]
    for stage, out_chs in enumerate(stage_channels[1:]):
        yield from (out_chs // 4, out_chs - in_chs, out_chs)
        if stage > 0:
            yield in_chs
        in_chs = out_chs


class ShuffleNetV1(LightNet):
    """ShuffleNetV1 with ``groups`` groups; ``stage_channels`` is ``(stem, stage 2, stage 3, stage 4)``."""

    def __init__(
            self,
            groups: int = 3,
            stage_channels: Sequence[int] = (24, 240, 480, 960),
            num_classes: int = 1000,
            in_chans: int = 3,
            drop_rate: float = 0.0,
            drop_path_rate: float = 0.0,
            global_pool: str = "avg",
            stage_strides: Optional[Sequence[IntOrPair]] = None,
            output_stride: Optional[int] = None,
    ):
        super().__init__(in_chans, num_classes, drop_rate)
        if len(stage_channels) != 1 + len(STAGE_REPEATS):
            raise ValueError(f"stage_channels needs {1 + len(STAGE_REPEATS)} entries (stem, stages 2-4), got "
                             f"{tuple(stage_channels)!r}")
        if groups < 1 or any(c % groups for c in grouped_widths(stage_channels)):
            valid = [g for g in range(1, MAX_GROUPS + 1) if not any(c % g for c in grouped_widths(stage_channels))]
            raise ValueError(f"groups={groups} does not divide the grouped convolutions of stage_channels="
                             f"{tuple(stage_channels)}; valid group counts for these channels: "
                             f"{', '.join(map(str, valid))}")
        plans = self.plan(stage_strides, output_stride)
        stages = self.init_pooled_stem(in_chans, stage_channels[0], plans)
        num_blocks, order = sum(STAGE_REPEATS), itertools.count()

        def unit(entry, in_chs, stride, dilation):
            out_chs, first = entry
            block_idx = next(order)
            return ShuffleV1Unit(in_chs, out_chs, groups, downsample=first, stride=stride, dilation=dilation,
                                 group_first_conv=block_idx > 0,
                                 drop_path_rate=drop_path_rate * block_idx / num_blocks), out_chs

        levels = [[(out_chs, index == 0) for index in range(repeats)]
                  for out_chs, repeats in zip(stage_channels[1:], STAGE_REPEATS)]
        level_stages, in_chs = self.build_level_stages(plans, levels, unit, stage_channels[0], first_level=2)
        stages += level_stages
        self.stages = nn.Sequential(*stages)
        self.init_head(in_chs, global_pool, classifier_bias=False)


# (groups, width multiplier) -> (stem, stage 2, stage 3, stage 4) channels: Table 1 at 1x, the release's
# tables at 0.5x, 1.5x and 2x (where the stem is not simply scaled).
SHUFFLENETV1_CHANNELS = {
    (1, 1.0): (24, 144, 288, 576),
    (2, 1.0): (24, 200, 400, 800),
    (3, 0.5): (12, 120, 240, 480),
    (3, 1.0): (24, 240, 480, 960),
    (3, 1.5): (24, 360, 720, 1440),
    (3, 2.0): (48, 480, 960, 1920),
    (4, 1.0): (24, 272, 544, 1088),
    (8, 0.5): (16, 192, 384, 768),
    (8, 1.0): (24, 384, 768, 1536),
    (8, 1.5): (24, 576, 1152, 2304),
    (8, 2.0): (48, 768, 1536, 3072),
}


def _variant(groups: int, width: float) -> Tuple[str, Variant]:
    name = f"lo_shufflenetv1_g{groups}_{round(width * 100):03d}"
    return name, Variant(dict(groups=groups, stage_channels=SHUFFLENETV1_CHANNELS[groups, width]),
                         f"ShuffleNetV1 {width}x, g = {groups} (Table 1 / Table 2).")


register_variants(__name__, ShuffleNetV1, "arXiv:1707.01083", dict(_variant(*key) for key in SHUFFLENETV1_CHANNELS))
