"""MobileNetV3 (Howard et al., "Searching for MobileNetV3", ICCV 2019), Large and Small.

Tables 1 and 2 of the paper. Blocks are inverted residuals whose SE module (Sec. 5.3: ReLU inside, hard-sigmoid
gate, a quarter of the expanded width) acts on the expanded features *before* the linear projection. The head
is pooling, a 1x1 conv to 1280 (Large) or 1024 (Small) with bias and h-swish, dropout and the classifier.
Layer for layer equal to torchvision's ``mobilenet_v3_large`` / ``mobilenet_v3_small`` at width 1.0; at other
widths channels are rounded as timm's ``mobilenetv3_*`` (expanded width from the rounded input width).
BatchNorm follows each variant's reference: eps 1e-3 and momentum 0.01 (the paper's TensorFlow values, kept by
torchvision) for width 1.0 and for variants without reference, PyTorch's defaults for timm-referenced widths.
"""

from functools import partial
from typing import Optional, Sequence

from torch import nn
from timm.models import generate_default_cfgs

from ._base import LightNet, build_lightnet, feature_entry, zoo_cfg
from ._registry import register_lightocr_model
from .layers import ConvBnAct, IntOrPair, InvertedResidual, make_divisible

RE, HS = nn.ReLU, nn.Hardswish

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
        num_blocks = sum(row[-1] for rows in spec["levels"] for row in rows)
        # timm keeps the stem at 16 channels below width 0.75
        in_chs = spec["stem"] if width_mult < 0.75 else make_divisible(spec["stem"] * width_mult)
        stride, dilation = plans[0].block(0)
        self.stem = ConvBnAct(in_chans, in_chs, 3, stride, dilation, act_layer=HS, norm_layer=norm_layer)
        stages, block_idx = [], 0
        for level, (rows, plan) in enumerate(zip(spec["levels"], plans)):
            blocks = []
            for kernel, expansion, channels, use_se, act_layer, repeats in rows:
                out_chs = make_divisible(channels * width_mult)
                for _ in range(repeats):
                    mid_chs = make_divisible(in_chs * expansion)
                    stride, dilation = plan.block(len(blocks) + (level == 0))
                    blocks.append(InvertedResidual(
                        in_chs, mid_chs, out_chs, kernel, stride, dilation, act_layer=act_layer,
                        se_channels=make_divisible(mid_chs * 0.25) if use_se else 0, norm_layer=norm_layer,
                        drop_path_rate=drop_path_rate * block_idx / num_blocks))
                    in_chs = out_chs
                    block_idx += 1
            if level == len(plans) - 1:
                last_conv = make_divisible(spec["last_conv"] * width_mult)
                blocks.append(ConvBnAct(in_chs, last_conv, 1, act_layer=HS, norm_layer=norm_layer))
                in_chs = last_conv
            stages.append(nn.Sequential(*blocks))
            self.feature_info.append(feature_entry(in_chs, plan, level))
        self.stages = nn.Sequential(*stages)
        self.init_head(in_chs, global_pool, head_hidden_size=spec["head"], head_act_layer=HS)


def _create(variant: str, arch: str, width_mult: float, pretrained: bool = False, **kwargs) -> MobileNetV3:
    return build_lightnet(MobileNetV3, variant, pretrained, arch=arch, width_mult=width_mult, **kwargs)


def _create_timm_bn(variant: str, arch: str, width_mult: float, pretrained: bool = False, **kwargs) -> MobileNetV3:
    """Variants referenced to timm, whose MobileNetV3 uses PyTorch's BatchNorm defaults."""
    kwargs.setdefault("bn_eps", 1e-5)
    kwargs.setdefault("bn_momentum", 0.1)
    return _create(variant, arch, width_mult, pretrained, **kwargs)


_cfg = partial(zoo_cfg, "arXiv:1905.02244")
default_cfgs = generate_default_cfgs({
    "lo_mobilenetv3_large_050": _cfg(),
    "lo_mobilenetv3_large_075": _cfg(),
    "lo_mobilenetv3_large_100": _cfg(),
    "lo_mobilenetv3_small_050": _cfg(),
    "lo_mobilenetv3_small_075": _cfg(),
    "lo_mobilenetv3_small_100": _cfg(),
})


@register_lightocr_model()
def lo_mobilenetv3_large_050(pretrained: bool = False, **kwargs) -> MobileNetV3:
    """MobileNetV3-Large, width 0.5: the encoder width of PaddleOCR's CRNN."""
    return _create("lo_mobilenetv3_large_050", "large", 0.5, pretrained, **kwargs)


@register_lightocr_model(reference="timm:mobilenetv3_large_075")
def lo_mobilenetv3_large_075(pretrained: bool = False, **kwargs) -> MobileNetV3:
    """MobileNetV3-Large, width 0.75 (155M MACs; Table 3)."""
    return _create_timm_bn("lo_mobilenetv3_large_075", "large", 0.75, pretrained, **kwargs)


@register_lightocr_model(reference="torchvision:mobilenet_v3_large")
def lo_mobilenetv3_large_100(pretrained: bool = False, **kwargs) -> MobileNetV3:
    """MobileNetV3-Large, width 1.0 (5.4M parameters, 219M MACs; Table 3)."""
    return _create("lo_mobilenetv3_large_100", "large", 1.0, pretrained, **kwargs)


@register_lightocr_model(reference="timm:mobilenetv3_small_050")
def lo_mobilenetv3_small_050(pretrained: bool = False, **kwargs) -> MobileNetV3:
    """MobileNetV3-Small, width 0.5."""
    return _create_timm_bn("lo_mobilenetv3_small_050", "small", 0.5, pretrained, **kwargs)


@register_lightocr_model(reference="timm:mobilenetv3_small_075")
def lo_mobilenetv3_small_075(pretrained: bool = False, **kwargs) -> MobileNetV3:
    """MobileNetV3-Small, width 0.75 (44M MACs; Table 4)."""
    return _create_timm_bn("lo_mobilenetv3_small_075", "small", 0.75, pretrained, **kwargs)


@register_lightocr_model(reference="torchvision:mobilenet_v3_small")
def lo_mobilenetv3_small_100(pretrained: bool = False, **kwargs) -> MobileNetV3:
    """MobileNetV3-Small, width 1.0 (2.5M parameters, 56M MACs; Table 4)."""
    return _create("lo_mobilenetv3_small_100", "small", 1.0, pretrained, **kwargs)
