"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018).

Layer for layer equal to torchvision's ``mobilenet_v2`` (and timm's ``mobilenetv2_*``): a 3x3 stem, 17 inverted
residual blocks with linear (activation-free) projections, a 1x1 conv to 1280 and a linear classifier.
"""

import itertools
from typing import Optional, Sequence

from torch import nn

from ._base import LightNet, repeated
from ._registry import Variant, register_variants
from .layers import ConvBnAct, IntOrPair, InvertedResidual, make_divisible

# Table 2 of the paper, rows grouped by feature level: (expansion t, output channels c, repeats n).
# The first block of each level takes the level's stride; the stem is level 0's strided layer.
MOBILENETV2_ARCH = (
    ((1, 16, 1),),
    ((6, 24, 2),),
    ((6, 32, 3),),
    ((6, 64, 4), (6, 96, 3)),
    ((6, 160, 3), (6, 320, 1)),
)


class MobileNetV2(LightNet):
    def __init__(
            self,
            width_mult: float = 1.0,
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
        levels = [repeated(rows) for rows in MOBILENETV2_ARCH]
        num_blocks, order = sum(map(len, levels)), itertools.count()
        in_chs = make_divisible(32 * width_mult)
        stride, dilation = plans[0].block(0)
        self.stem = ConvBnAct(in_chans, in_chs, 3, stride, dilation, act_layer=nn.ReLU6)

        def inverted_residual(row, in_chs, stride, dilation):
            expansion, channels = row
            out_chs = make_divisible(channels * width_mult)
            return InvertedResidual(in_chs, int(round(in_chs * expansion)), out_chs, 3, stride, dilation,
                                    act_layer=nn.ReLU6, drop_path_rate=drop_path_rate * next(order) / num_blocks), out_chs

        stages, in_chs = self.build_level_stages(plans, levels, inverted_residual, in_chs)
        self.stages = nn.Sequential(*stages)
        num_features = make_divisible(1280 * max(1.0, width_mult))
        self.init_head(num_features, global_pool, final_conv=ConvBnAct(in_chs, num_features, 1, act_layer=nn.ReLU6))


register_variants(__name__, MobileNetV2, "arXiv:1801.04381", {
    f"lo_mobilenetv2_{round(width * 100):03d}": Variant(
        dict(width_mult=width), f"MobileNetV2, width {width}" + (
            " (3.5M parameters, 300M MACs at 224x224; Table 4)." if width == 1.0 else "."),
        reference="torchvision:mobilenet_v2" if width == 1.0 else f"timm:mobilenetv2_{round(width * 100):03d}")
    for width in (0.35, 0.5, 0.75, 1.0, 1.4)
})
