"""MobileNetV1 (Howard et al., "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", 2017).

Body of Table 1: a 3x3 stem and 13 depthwise separable blocks, then global pooling and a linear classifier.
The width multiplier alpha (Sec. 3.3) scales every layer. Layer for layer equal to timm's ``mobilenetv1_100``,
whose activation is ReLU6 (as in the TF-slim release of the paper's weights) where the paper writes ReLU.
"""

from functools import partial
from typing import Optional, Sequence

from torch import nn
from timm.data import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD
from timm.models import generate_default_cfgs

from ._base import LightNet, build_lightnet, feature_entry, zoo_cfg
from ._registry import register_lightocr_model
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
        stages = []
        for level, (rows, plan) in enumerate(zip(MOBILENETV1_ARCH, plans)):
            blocks = []
            for channels, repeats in rows:
                out_chs = make_divisible(channels * width_mult)
                for _ in range(repeats):
                    stride, dilation = plan.block(len(blocks) + (level == 0))
                    blocks.append(DepthwiseSeparable(in_chs, out_chs, 3, stride, dilation, act_layer=nn.ReLU6))
                    in_chs = out_chs
            stages.append(nn.Sequential(*blocks))
            self.feature_info.append(feature_entry(in_chs, plan, level))
        self.stages = nn.Sequential(*stages)
        self.init_head(in_chs, global_pool)


def _create(variant: str, width_mult: float, pretrained: bool = False, **kwargs) -> MobileNetV1:
    return build_lightnet(MobileNetV1, variant, pretrained, width_mult=width_mult, **kwargs)


# timm's mobilenetv1_100 weights were trained with Inception normalization (mean = std = 0.5).
_cfg = partial(zoo_cfg, "arXiv:1704.04861", mean=IMAGENET_INCEPTION_MEAN, std=IMAGENET_INCEPTION_STD)
default_cfgs = generate_default_cfgs({
    "lo_mobilenetv1_025": _cfg(),
    "lo_mobilenetv1_050": _cfg(),
    "lo_mobilenetv1_075": _cfg(),
    "lo_mobilenetv1_100": _cfg(),
})


@register_lightocr_model()
def lo_mobilenetv1_025(pretrained: bool = False, **kwargs) -> MobileNetV1:
    """MobileNetV1, alpha 0.25 (0.5M parameters, 41M MACs; Table 6)."""
    return _create("lo_mobilenetv1_025", 0.25, pretrained, **kwargs)


@register_lightocr_model()
def lo_mobilenetv1_050(pretrained: bool = False, **kwargs) -> MobileNetV1:
    """MobileNetV1, alpha 0.5 (1.3M parameters, 149M MACs; Table 6)."""
    return _create("lo_mobilenetv1_050", 0.5, pretrained, **kwargs)


@register_lightocr_model()
def lo_mobilenetv1_075(pretrained: bool = False, **kwargs) -> MobileNetV1:
    """MobileNetV1, alpha 0.75 (2.6M parameters, 325M MACs; Table 6)."""
    return _create("lo_mobilenetv1_075", 0.75, pretrained, **kwargs)


@register_lightocr_model(reference="timm:mobilenetv1_100")
def lo_mobilenetv1_100(pretrained: bool = False, **kwargs) -> MobileNetV1:
    """MobileNetV1, alpha 1.0 (4.2M parameters, 569M MACs; Table 6)."""
    return _create("lo_mobilenetv1_100", 1.0, pretrained, **kwargs)
