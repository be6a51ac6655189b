"""ReXNet and ReXNet-lite: the issue's figures, the channel rule of the paper (Sec. 4) and the blocks."""
import pytest
import timm
import torch
from torch import nn

import lightocr
from lightocr.models.rexnet import LinearBottleneck
from .helpers import check_size

ISSUE_TABLE = {
    "lo_rexnet_100": (4_796_873, 398.4e6), "lo_rexnet_130": (7_557_091, 662.2e6),
    "lo_rexnet_150": (9_728_593, 875.8e6), "lo_rexnet_200": (16_366_620, 1_528.9e6),
    "lo_rexnet_lite_100": (4_740_056, 406.8e6), "lo_rexnet_lite_130": (6_747_960, 646.5e6),
    "lo_rexnet_lite_150": (8_332_296, 836.4e6), "lo_rexnet_lite_200": (12_966_200, 1_498.3e6),
}


@pytest.mark.parametrize("name", sorted(ISSUE_TABLE))
def test_issue_table(name):
    check_size(name, *ISSUE_TABLE[name])


def test_references():
    for width in ("100", "130", "150", "200"):
        assert lightocr.reference(f"lo_rexnet_{width}") == f"timm:rexnet_{width}"
        assert lightocr.reference(f"lo_rexnet_lite_{width}") is None


def block_widths(model):
    return [b.out_channels for stage in model.stages for b in stage]


def tf_round(value, divisor):
    """TF-slim's rounding to a multiple of ``divisor``, never more than 10% down."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@pytest.mark.parametrize("width", [1.0, 1.3, 1.5, 2.0])
def test_channels_grow_linearly_as_section_4_says(width):
    """Sec. 4: block i of 16 outputs 16 + i * 180 / 16 channels (ReXNet; lite: 16 + i * 164 / 15, multiples of 8),
    times the width, rounded."""
    rexnet = block_widths(timm.create_model(f"lo_rexnet_{round(width * 100)}"))
    assert rexnet == [round((16 + i * 180 / 16) * width) for i in range(16)]
    lite = block_widths(timm.create_model(f"lo_rexnet_lite_{round(width * 100)}"))
    assert lite == [tf_round(round((16 + i * 164 / 15) * width), 8) for i in range(16)]
    steps = [b - a for a, b in zip(rexnet, rexnet[1:])]
    assert max(steps) - min(steps) <= 1 + width  # linear: every step the same up to rounding


def test_blocks_per_level_and_strides():
    model = timm.create_model("lo_rexnet_100")
    assert [len(stage) for stage in model.stages] == [1, 2, 2, 6, 5]  # groups 1, 2, 2, 3+3, 5
    assert [i["reduction"] for i in model.feature_info] == [2, 4, 8, 16, 32]
    se = [b.se for stage in model.stages for b in stage]
    assert [isinstance(s, nn.Identity) for s in se] == [True] * 3 + [False] * 13  # SE from the third group on
    lite = timm.create_model("lo_rexnet_lite_100")
    assert not any(isinstance(m, (nn.SiLU, nn.Sigmoid)) for m in lite.modules())
    assert lite.conv_head.out_channels == 1024 and isinstance(lite.head_norm, nn.BatchNorm2d)


def test_partial_residual_adds_the_input_to_the_first_channels():
    block = LinearBottleneck(4, 24, 6).eval()
    nn.init.zeros_(block.conv_pwl.conv.weight)
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        out = block(x)
    torch.testing.assert_close(out[:, :4], x)
    assert out[:, 4:].abs().max() == 0
