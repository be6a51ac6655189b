"""MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018).

Layer for layer equal to torchvision's ``mobilenet_v2`` (and timm's ``mobilenetv2_*``): a 3x3 stem, 17 inverted
residual blocks with linear (activation-free) projections, a 1x1 conv to 1280 and a linear classifier.
"""

from functools import partial
from typing import Optional, Sequence

from torch import nn
from timm.models import generate_default_cfgs

from ._base import LightNet, build_lightnet, feature_entry, zoo_cfg
from ._registry import register_lightocr_model
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
        num_blocks = sum(n for rows in MOBILENETV2_ARCH for _, _, n in rows)
        in_chs = make_divisible(32 * width_mult)
        stride, dilation = plans[0].block(0)
        self.stem = ConvBnAct(in_chans, in_chs, 3, stride, dilation, act_layer=nn.ReLU6)
        stages, block_idx = [], 0
        for level, (rows, plan) in enumerate(zip(MOBILENETV2_ARCH, plans)):
            blocks = []
            for expansion, channels, repeats in rows:
                out_chs = make_divisible(channels * width_mult)
                for _ in range(repeats):
                    stride, dilation = plan.block(len(blocks) + (level == 0))
                    blocks.append(InvertedResidual(
                        in_chs, int(round(in_chs * expansion)), out_chs, 3, stride, dilation, act_layer=nn.ReLU6,
                        drop_path_rate=drop_path_rate * block_idx / num_blocks))
                    in_chs = out_chs
                    block_idx += 1
            stages.append(nn.Sequential(*blocks))
            self.feature_info.append(feature_entry(in_chs, plan, level))
        self.stages = nn.Sequential(*stages)
        num_features = make_divisible(1280 * max(1.0, width_mult))
        self.init_head(num_features, global_pool, final_conv=ConvBnAct(in_chs, num_features, 1, act_layer=nn.ReLU6))


def _create(variant: str, width_mult: float, pretrained: bool = False, **kwargs) -> MobileNetV2:
    return build_lightnet(MobileNetV2, variant, pretrained, width_mult=width_mult, **kwargs)


_cfg = partial(zoo_cfg, "arXiv:1801.04381")
default_cfgs = generate_default_cfgs({
    "lo_mobilenetv2_035": _cfg(),
    "lo_mobilenetv2_050": _cfg(),
    "lo_mobilenetv2_075": _cfg(),
    "lo_mobilenetv2_100": _cfg(),
    "lo_mobilenetv2_140": _cfg(),
})


@register_lightocr_model(reference="timm:mobilenetv2_035")
def lo_mobilenetv2_035(pretrained: bool = False, **kwargs) -> MobileNetV2:
    """MobileNetV2, width 0.35."""
    return _create("lo_mobilenetv2_035", 0.35, pretrained, **kwargs)


@register_lightocr_model(reference="timm:mobilenetv2_050")
def lo_mobilenetv2_050(pretrained: bool = False, **kwargs) -> MobileNetV2:
    """MobileNetV2, width 0.5."""
    return _create("lo_mobilenetv2_050", 0.5, pretrained, **kwargs)


@register_lightocr_model(reference="timm:mobilenetv2_075")
def lo_mobilenetv2_075(pretrained: bool = False, **kwargs) -> MobileNetV2:
    """MobileNetV2, width 0.75."""
    return _create("lo_mobilenetv2_075", 0.75, pretrained, **kwargs)


@register_lightocr_model(reference="torchvision:mobilenet_v2")
def lo_mobilenetv2_100(pretrained: bool = False, **kwargs) -> MobileNetV2:
    """MobileNetV2, width 1.0 (3.5M parameters, 300M MACs at 224x224; Table 4)."""
    return _create("lo_mobilenetv2_100", 1.0, pretrained, **kwargs)


@register_lightocr_model(reference="timm:mobilenetv2_140")
def lo_mobilenetv2_140(pretrained: bool = False, **kwargs) -> MobileNetV2:
    """MobileNetV2, width 1.4."""
    return _create("lo_mobilenetv2_140", 1.4, pretrained, **kwargs)
