"""MobileNetV3 (Howard et al., "Searching for MobileNetV3", ICCV 2019), Large and Small.

Tables 1 and 2 of the paper. Blocks are inverted residuals whose SE module (Sec. 5.3: ReLU inside, hard-sigmoid
gate, a quarter of the expanded width) acts on the expanded features *before* the linear projection. The head
is pooling, a 1x1 conv to 1280 (Large) or 1024 (Small) with bias and h-swish, dropout and the classifier.
Layer for layer equal to torchvision's ``mobilenet_v3_large`` / ``mobilenet_v3_small`` at width 1.0; at other
widths channels are rounded as timm's ``mobilenetv3_*`` (expanded width from the rounded input width).
BatchNorm follows each variant's reference: eps 1e-3 and momentum 0.01 (the paper's TensorFlow values, kept by
torchvision) for width 1.0 and for variants without reference, PyTorch's defaults for timm-referenced widths.
"""

import itertools
from functools import partial
from typing import Optional, Sequence

from torch import nn

from ._base import LightNet, repeated
from ._registry import Variant, register_variants
from .layers import ConvBnAct, IntOrPair, InvertedResidual, make_divisible

RE, HS = nn.ReLU, nn.Hardswish
LAST_CONV = ("last_conv",)

# Rows grouped by feature level: (kernel, expansion ratio, output channels, SE, activation, repeats).
# The first block of each level takes the level's stride; the stem is level 0's strided layer.
MOBILENETV3_ARCH = {
    "large": dict(
        stem=16, last_conv=960, head=1280, levels=(
            ((3, 1, 16, False, RE, 1),),
            ((3, 4, 24, False, RE, 1), (3, 3, 24, False, RE, 1)),
            ((5, 3, 40, True, RE, 3),),
            ((3, 6, 80, False, HS, 1), (3, 2.5, 80, False, HS, 1), (3, 2.3, 80, False, HS, 2),
             (3, 6, 112, True, HS, 2)),
            ((5, 6, 160, True, HS, 3),),
        )),
    "small": dict(
        stem=16, last_conv=576, head=1024, levels=(
            (),
            ((3, 1, 16, True, RE, 1),),
            ((3, 4.5, 24, False, RE, 1), (3, 3.67, 24, False, RE, 1)),
            ((5, 4, 40, True, HS, 1), (5, 6, 40, True, HS, 2), (5, 3, 48, True, HS, 2)),
            ((5, 6, 96, True, HS, 3),),
        )),
}


class MobileNetV3(LightNet):
    def __init__(
            self,
            arch: str = "large",
            width_mult: float = 1.0,
            num_classes: int = 1000,
            in_chans: int = 3,
            drop_rate: float = 0.2,
            drop_path_rate: float = 0.0,
            global_pool: str = "avg",
            stage_strides: Optional[Sequence[IntOrPair]] = None,
            output_stride: Optional[int] = None,
            bn_eps: float = 1e-3,
            bn_momentum: float = 0.01,
    ):
        super().__init__(in_chans, num_classes, drop_rate)
        norm_layer = partial(nn.BatchNorm2d, eps=bn_eps, momentum=bn_momentum)
        if arch not in MOBILENETV3_ARCH:
            raise ValueError(f"arch must be one of {sorted(MOBILENETV3_ARCH)}, got {arch!r}")
        spec = MOBILENETV3_ARCH[arch]
        plans = self.plan(stage_strides, output_stride)
        levels = [repeated(rows) for rows in spec["levels"]]
        num_blocks, order = sum(map(len, levels)), itertools.count()
        levels[-1].append(LAST_CONV)  # the last level ends with the 1x1 conv to ``last_conv`` channels
        # timm keeps the stem at 16 channels below width 0.75
        in_chs = spec["stem"] if width_mult < 0.75 else make_divisible(spec["stem"] * width_mult)
        stride, dilation = plans[0].block(0)
        self.stem = ConvBnAct(in_chans, in_chs, 3, stride, dilation, act_layer=HS, norm_layer=norm_layer)

        def layer(row, in_chs, stride, dilation):
            if row is LAST_CONV:
                out_chs = make_divisible(spec["last_conv"] * width_mult)
                return ConvBnAct(in_chs, out_chs, 1, act_layer=HS, norm_layer=norm_layer), out_chs
            kernel, expansion, channels, use_se, act_layer = row
            mid_chs, out_chs = make_divisible(in_chs * expansion), make_divisible(channels * width_mult)
            return InvertedResidual(
                in_chs, mid_chs, out_chs, kernel, stride, dilation, act_layer=act_layer,
                se_channels=make_divisible(mid_chs * 0.25) if use_se else 0, norm_layer=norm_layer,
                drop_path_rate=drop_path_rate * next(order) / num_blocks), out_chs

        stages, in_chs = self.build_level_stages(plans, levels, layer, in_chs)
        self.stages = nn.Sequential(*stages)
        self.init_head(in_chs, global_pool, head_hidden_size=spec["head"], head_act_layer=HS)


# BatchNorm of the variants referenced to timm, whose MobileNetV3 uses PyTorch's defaults
TIMM_BN = dict(bn_eps=1e-5, bn_momentum=0.1)
register_variants(__name__, MobileNetV3, "arXiv:1905.02244", {
    "lo_mobilenetv3_large_050": Variant(dict(arch="large", width_mult=0.5),
                                        "MobileNetV3-Large, width 0.5: the encoder width of PaddleOCR's CRNN."),
    "lo_mobilenetv3_large_075": Variant(dict(arch="large", width_mult=0.75, **TIMM_BN),
                                        "MobileNetV3-Large, width 0.75 (155M MACs; Table 3).",
                                        reference="timm:mobilenetv3_large_075"),
    "lo_mobilenetv3_large_100": Variant(dict(arch="large", width_mult=1.0),
                                        "MobileNetV3-Large, width 1.0 (5.4M parameters, 219M MACs; Table 3).",
                                        reference="torchvision:mobilenet_v3_large"),
    "lo_mobilenetv3_small_050": Variant(dict(arch="small", width_mult=0.5, **TIMM_BN),
                                        "MobileNetV3-Small, width 0.5.", reference="timm:mobilenetv3_small_050"),
    "lo_mobilenetv3_small_075": Variant(dict(arch="small", width_mult=0.75, **TIMM_BN),
                                        "MobileNetV3-Small, width 0.75 (44M MACs; Table 4).",
                                        reference="timm:mobilenetv3_small_075"),
    "lo_mobilenetv3_small_100": Variant(dict(arch="small", width_mult=1.0),
                                        "MobileNetV3-Small, width 1.0 (2.5M parameters, 56M MACs; Table 4).",
                                        reference="torchvision:mobilenet_v3_small"),
})
