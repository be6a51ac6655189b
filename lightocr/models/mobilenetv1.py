"""MobileNetV1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", 2017).

Body of Table 1: a 3x3 stem and 13 depthwise separable blocks, then global pooling and a linear classifier.
The width multiplier alpha (Sec. 3.3) scales every layer. Layer for layer equal to timm's ``mobilenetv1_100``,
whose activation is ReLU6 (as in the TF-slim release of the paper's weights) where the paper writes ReLU.
"""

from typing import Optional, Sequence

from torch import nn
from timm.data import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD

from ._base import LightNet, repeated
from ._registry import Variant, register_variants
from .layers import ConvBnAct, DepthwiseSeparable, IntOrPair, make_divisible

# Table 1, depthwise separable blocks grouped by feature level: (output channels, repeats).
MOBILENETV1_ARCH = (
    ((64, 1),),
    ((128, 2),),
    ((256, 2),),
    ((512, 6),),
    ((1024, 2),),
)


class MobileNetV1(LightNet):
    def __init__(
            self,
            width_mult: float = 1.0,
            num_classes: int = 1000,
            in_chans: int = 3,
            drop_rate: float = 0.2,
            global_pool: str = "avg",
            stage_strides: Optional[Sequence[IntOrPair]] = None,
            output_stride: Optional[int] = None,
    ):
        super().__init__(in_chans, num_classes, drop_rate)
        plans = self.plan(stage_strides, output_stride)
        in_chs = make_divisible(32 * width_mult)
        stride, dilation = plans[0].block(0)
        self.stem = ConvBnAct(in_chans, in_chs, 3, stride, dilation, act_layer=nn.ReLU6)

        def separable(row, in_chs, stride, dilation):
            out_chs = make_divisible(row[0] * width_mult)
            return DepthwiseSeparable(in_chs, out_chs, 3, stride, dilation, act_layer=nn.ReLU6), out_chs

        stages, in_chs = self.build_level_stages(plans, [repeated(rows) for rows in MOBILENETV1_ARCH], separable,
                                                 in_chs)
        self.stages = nn.Sequential(*stages)
        self.init_head(in_chs, global_pool)


# timm's mobilenetv1_100 weights were trained with Inception normalization (mean = std = 0.5).
register_variants(__name__, MobileNetV1, "arXiv:1704.04861", {
    f"lo_mobilenetv1_{round(alpha * 100):03d}": Variant(
        dict(width_mult=alpha), f"MobileNetV1, alpha {alpha} ({size}; Table 6).",
        reference="timm:mobilenetv1_100" if alpha == 1.0 else None,
        cfg=dict(mean=IMAGENET_INCEPTION_MEAN, std=IMAGENET_INCEPTION_STD))
    for alpha, size in ((0.25, "0.5M parameters, 41M MACs"), (0.5, "1.3M parameters, 149M MACs"),
                        (0.75, "2.6M parameters, 325M MACs"), (1.0, "4.2M parameters, 569M MACs"))
})
