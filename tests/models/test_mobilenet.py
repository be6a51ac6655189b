"""MobileNet V1/V2/V3 against the issue's table and the papers' tables, and faithfulness details."""
import pytest
import timm
from torch import nn

import lightocr
from lightocr.models.layers import InvertedResidual, SqueezeExcite
from .helpers import check_size, macs, num_params


# (params, MACs at 224) from the issue's table (the torchvision / timm model cards).
ISSUE_TABLE = {
    "lo_mobilenetv1_100": (4_231_976, 569e6),
    "lo_mobilenetv2_100": (3_504_872, 301e6),
    "lo_mobilenetv3_large_100": (5_483_032, 217e6),
    "lo_mobilenetv3_small_100": (2_542_856, 56.5e6),
}

# MobileNetV1 paper, Table 6: width multiplier -> (million MACs, million parameters), 1000 classes.
MOBILENETV1_TABLE6 = {"025": (41, 0.5), "050": (149, 1.3), "075": (325, 2.6), "100": (569, 4.2)}


@pytest.mark.parametrize("name", sorted(ISSUE_TABLE))
def test_issue_table(name):
    check_size(name, *ISSUE_TABLE[name], rel=0.005)


@pytest.mark.parametrize("width", sorted(MOBILENETV1_TABLE6))
def test_mobilenetv1_table6(width):
    million_macs, million_params = MOBILENETV1_TABLE6[width]
    model = timm.create_model(f"lo_mobilenetv1_{width}")
    assert macs(model) / 1e6 == pytest.approx(million_macs, rel=0.01)
    assert num_params(model) / 1e6 == pytest.approx(million_params, abs=0.05)


@pytest.mark.parametrize("alpha", [0.25, 0.5, 0.75, 1.0])
def test_mobilenetv1_parameter_formula(alpha):
    """Hand count from Table 1: conv layers without bias, one BN (2 params) per conv, a 1000-way FC."""
    widths = [int(c * alpha) for c in (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)]
    count = 3 * 9 * widths[0] + 2 * widths[0]
    for cin, cout in zip(widths, widths[1:]):
        count += 9 * cin + 2 * cin + cin * cout + 2 * cout
    count += widths[-1] * 1000 + 1000
    name = f"lo_mobilenetv1_{int(alpha * 100):03d}"
    assert num_params(timm.create_model(name)) == count


def test_mobilenetv2_projection_is_linear():
    model = timm.create_model("lo_mobilenetv2_100")
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == 17
    for block in blocks:
        assert isinstance(block.conv_pwl.act, nn.Identity)
        assert isinstance(block.conv_dw.act, nn.ReLU6)
    residuals = sum(block.has_skip for block in blocks)
    assert residuals == 10  # Table 2: repeats beyond the first of each row


def test_mobilenetv3_se_sits_before_projection():
    model = timm.create_model("lo_mobilenetv3_large_100")
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == 15
    with_se = [b for b in blocks if isinstance(b.se, SqueezeExcite)]
    assert len(with_se) == 8  # Table 1: 3 at 40 channels, 2 at 112, 3 at 160
    for block in with_se:
        order = [name for name, _ in block.named_children()]
        assert order.index("se") < order.index("conv_pwl")
        assert block.se.conv_reduce.in_channels == block.conv_dw.out_channels
        assert isinstance(block.se.gate, nn.Hardsigmoid) and isinstance(block.se.act, nn.ReLU)
    # no shortcut convolution anywhere: as many weight layers as torchvision (its 1280-wide layer is a Linear)
    reference = lightocr.create_reference("lo_mobilenetv3_large_100")
    assert sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules()) == sum(
        isinstance(m, (nn.Conv2d, nn.Linear)) for m in reference.modules())


def test_mobilenetv3_small_first_block():
    model = timm.create_model("lo_mobilenetv3_small_100")
    assert len(model.stages[0]) == 0  # level 0 is the stem alone
    first = model.stages[1][0]
    assert isinstance(first.conv_pw, nn.Identity) and isinstance(first.se, SqueezeExcite)
    assert first.conv_dw.conv.stride == (2, 2)
