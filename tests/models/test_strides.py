"""Per-level strides for text lines, and output_stride through dilation."""
import pytest
import timm
import torch

import lightocr
from lightocr.models import plan_stages
from .helpers import level_sizes

ALL = lightocr.list_models()
OCR_STRIDES = (2, 2, (2, 1), (2, 1), (2, 1))


def levels(name):
    return 4 if name.startswith("lo_squeezenet") else 5


@pytest.mark.parametrize("name", ALL)
def test_height_only_strides_keep_width(name):
    strides = OCR_STRIDES[:levels(name)]
    model = timm.create_model(name, stage_strides=strides, num_classes=0).eval()
    with torch.no_grad():
        features = model.extract_features(torch.randn(2, 3, 32, 320))
    heights = level_sizes(name, 32, [2] * len(strides))
    widths = level_sizes(name, 320, [2, 2] + [1] * (len(strides) - 2))
    assert [tuple(f.shape[-2:]) for f in features] == list(zip(heights, widths))
    if not name.startswith("lo_squeezenet") and name != "lo_xception":  # the exact families
        assert widths[-1] == 80 and heights[-1] == 1
    assert [info["stride"] for info in model.feature_info] == [(2, 2), (4, 4), (8, 4), (16, 4), (32, 4)][:len(strides)]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("output_stride", [8, 16])
def test_output_stride_by_dilation(name, output_stride):
    model = timm.create_model(name, output_stride=output_stride, num_classes=0).eval()
    with torch.no_grad():
        features = model.extract_features(torch.randn(1, 3, 64, 64))
    reductions = [min(2 ** (i + 1), output_stride) for i in range(levels(name))]
    strides = [2 if i == 0 or r > reductions[i - 1] else 1 for i, r in enumerate(reductions)]
    assert [f.shape[-1] for f in features] == level_sizes(name, 64, strides)
    assert [info["reduction"] for info in model.feature_info] == reductions


def test_dilated_model_has_the_same_weights():
    plain = timm.create_model("lo_mobilenetv3_large_100")
    dilated = timm.create_model("lo_mobilenetv3_large_100", output_stride=8)
    dilated.load_state_dict(plain.state_dict())
    dilations = [m.dilation for m in dilated.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] > 1]
    assert (4, 4) in dilations and (2, 2) in dilations


def test_plan_follows_deeplab_convention():
    plans = plan_stages((2, 2, 2, 2, 2), output_stride=8)
    # the first block of a dilated level keeps the previous dilation, the rest take the new one
    assert [(p.stride, p.first_dilation, p.dilation) for p in plans[2:]] == [
        ((2, 2), (1, 1), (1, 1)), ((1, 1), (1, 1), (2, 2)), ((1, 1), (2, 2), (4, 4))]
    plans = plan_stages(OCR_STRIDES, output_stride=16)
    assert [p.reduction for p in plans] == [(2, 2), (4, 4), (8, 4), (16, 4), (16, 4)]
    assert plans[4].stride == (1, 1) and plans[4].dilation == (2, 1)


@pytest.mark.parametrize("name,kwargs,match", [
    ("lo_mobilenetv2_050", dict(output_stride=4), "output_stride must be 8, 16 or 32"),
    ("lo_mobilenetv2_050", dict(stage_strides=(2, 2, 2)), "stage_strides needs 5 entries"),
    ("lo_mobilenetv2_050", dict(stage_strides=(2, 2, 3, 2, 2)), r"stage_strides\[2\] must be 1, 2"),
    # a family of four levels: reduction 16 at most, four strides
    ("lo_squeezenet1_1", dict(output_stride=32), r"output_stride must be 8 or 16 for a network of 4 levels"),
    ("lo_squeezenet1_0", dict(stage_strides=OCR_STRIDES), "stage_strides needs 4 entries .* 4 levels, got 5"),
    ("lo_shufflenetv2_100", dict(stage_strides=(2, 2, 2, 2)), "stage_strides needs 5 entries"),
])
def test_bad_stride_settings(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        timm.create_model(name, **kwargs)
