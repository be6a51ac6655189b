"""ShuffleNetV1 and V2: the issue's figures, the papers' tables, the official release's layer shapes and the
channel shuffle against hand-computed permutations."""
import pytest
import timm
import torch
from torch import nn

import lightocr
from lightocr.models.layers import channel_shuffle
from lightocr.models.shufflenetv1 import ShuffleV1Unit
from .helpers import check_size, macs

# (params, MACs at 224) from the issue's table; MACs where it gives them
ISSUE_TABLE = {
    "lo_shufflenetv1_g3_100": (1_864_728, 137.5e6),
    "lo_shufflenetv1_g8_100": (2_433_768, 138.4e6),
    "lo_shufflenetv1_g1_100": (1_530_936, None),
    "lo_shufflenetv1_g2_100": (1_732_848, None),
    "lo_shufflenetv1_g4_100": (1_967_344, None),
    "lo_shufflenetv1_g3_050": (717_324, None),
    "lo_shufflenetv1_g3_150": (3_441_168, None),
    "lo_shufflenetv1_g3_200": (5_449_776, None),
    "lo_shufflenetv1_g8_050": (1_010_448, None),
    "lo_shufflenetv1_g8_150": (4_268_952, None),
    "lo_shufflenetv1_g8_200": (6_521_232, None),
    "lo_shufflenetv2_050": (1_366_792, 40.5e6),
    "lo_shufflenetv2_100": (2_278_604, 144.9e6),
    "lo_shufflenetv2_150": (3_503_624, 295.8e6),
    "lo_shufflenetv2_200": (7_393_996, 583.3e6),
}

# ShuffleNetV1 paper, Table 2: complexity (MFLOPs, i.e. multiply-adds) of each group count at 1x, about 140M
TABLE2_MFLOPS = {1: 143, 2: 140, 3: 137, 4: 133, 8: 137}


@pytest.mark.parametrize("name", sorted(ISSUE_TABLE))
def test_issue_table(name):
    check_size(name, *ISSUE_TABLE[name])


def test_variants_of_the_issue():
    assert lightocr.list_models("lo_shufflenetv1_*") == sorted(
        [f"lo_shufflenetv1_g{g}_100" for g in (1, 2, 3, 4, 8)]
        + [f"lo_shufflenetv1_g{g}_{w}" for g in (3, 8) for w in ("050", "150", "200")])
    assert lightocr.list_models("lo_shufflenetv2_*") == [f"lo_shufflenetv2_{w}" for w in ("050", "100", "150", "200")]
    assert all(lightocr.reference(n) is None for n in lightocr.list_models("lo_shufflenetv1_*"))
    assert lightocr.reference("lo_shufflenetv2_150") == "torchvision:shufflenet_v2_x1_5"


@pytest.mark.parametrize("groups", sorted(TABLE2_MFLOPS))
def test_shufflenetv1_table2_complexity(groups):
    assert macs(timm.create_model(f"lo_shufflenetv1_g{groups}_100")) / 1e6 == pytest.approx(
        TABLE2_MFLOPS[groups], rel=0.025)


def test_channel_shuffle_is_the_papers_permutation():
    # 6 channels in 3 groups of 2: (g0: 0 1 | g1: 2 3 | g2: 4 5) -> 0 2 4 1 3 5 (Sec. 3.1: reshape (g, n), transpose)
    x = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
    # two groups of 4 (ShuffleNetV2): the halves interleave
    assert channel_shuffle(torch.arange(8.0).reshape(1, 8, 1, 1), 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


def test_shufflenetv1_unit_shuffles_as_the_release():
    """The release views the 6 bottleneck channels of g = 3 as (2, 3) and transposes: 0 3 1 4 2 5 (the paper's
    order would be 0 2 4 1 3 5). Bottleneck channel c carries the value c + 1 (BatchNorm off, identity depthwise
    conv); the last conv sees them shuffled."""
    unit = ShuffleV1Unit(24, 24, groups=3, downsample=False).eval()
    for conv_bn in (unit.conv_pw, unit.conv_dw, unit.conv_pwl):
        conv_bn.bn = nn.Identity()
    seen = []
    unit.conv_pwl.conv.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    with torch.no_grad():
        nn.init.zeros_(unit.conv_pw.conv.weight)
        for c in range(6):
            unit.conv_pw.conv.weight[c, 0, 0, 0] = c + 1
        nn.init.zeros_(unit.conv_dw.conv.weight)
        unit.conv_dw.conv.weight[:, 0, 1, 1] = 1
        unit(torch.ones(1, 24, 3, 3))
    assert seen[0][0, :, 1, 1].tolist() == [1, 4, 2, 5, 3, 6]


G3 = "lo_shufflenetv1_g3_100"
G8 = "lo_shufflenetv1_g8_100"


@pytest.mark.parametrize("name,groups,widths", [
    (G3, 3, (24, 240, 480, 960)), (G8, 8, (24, 384, 768, 1536)),
    ("lo_shufflenetv1_g3_050", 3, (12, 120, 240, 480)), ("lo_shufflenetv1_g8_200", 8, (48, 768, 1536, 3072))])
def test_shufflenetv1_layer_shapes_of_the_release(name, groups, widths):
    """Weight shapes of the official network.py/blocks.py for g = 3 and 8, by hand: the first unit's 1x1 conv is
    not grouped; a stride-2 unit's last conv makes ``out - in`` channels; grouped convs see ``channels / g``."""
    stem, *outs = widths
    model = timm.create_model(name)
    assert model.stem.conv.weight.shape == (stem, 3, 3, 3)
    in_chs = stem
    for level, out_chs in zip((2, 3, 4), outs):
        units = list(model.stages[level])
        assert len(units) == {2: 4, 3: 8, 4: 4}[level]
        mid = out_chs // 4
        first = units[0]
        assert first.conv_pw.conv.weight.shape == (mid, in_chs if level == 2 else in_chs // groups, 1, 1)
        assert first.conv_dw.conv.weight.shape == (mid, 1, 3, 3) and first.conv_dw.conv.stride == (2, 2)
        assert first.conv_pwl.conv.weight.shape == (out_chs - in_chs, mid // groups, 1, 1)
        assert isinstance(first.shortcut, nn.AvgPool2d) and first.shortcut.kernel_size == 3
        for unit in units[1:]:
            assert unit.conv_pw.conv.weight.shape == (mid, out_chs // groups, 1, 1)
            assert unit.conv_pwl.conv.weight.shape == (out_chs, mid // groups, 1, 1)
        in_chs = out_chs
    assert model.classifier.weight.shape == (1000, outs[-1]) and model.classifier.bias is None


@pytest.mark.parametrize("name", [G3, G8, "lo_shufflenetv2_100"])
def test_table1_output_sizes(name):
    """ShuffleNetV1 Table 1 (and V2 Table 5): 112 after Conv1, 56 after the max pool, then 28, 14, 7."""
    model = timm.create_model(name).eval()
    with torch.no_grad():
        sizes = [f.shape[-1] for f in model.extract_features(torch.randn(1, 3, 224, 224))]
    assert sizes == [112, 56, 28, 14, 7]
    assert [i["module"] for i in model.feature_info][:2] == ["stages.0", "stages.1"]
    assert isinstance(model.stages[1][0], nn.MaxPool2d)  # the stem's pool starts level 1


def test_groups_that_do_not_divide_list_the_valid_ones():
    # g=3 1x widths: bottlenecks 60, 120, 240; stage 2's first unit makes 240 - 24 = 216; 8 does not divide 60
    with pytest.raises(ValueError, match=r"groups=5 does not divide .* valid group counts for these channels: "
                                         r"1, 2, 3, 4, 6, 12$"):
        timm.create_model(G3, groups=5)
    with pytest.raises(ValueError, match="stage_channels needs 4 entries"):
        timm.create_model(G3, stage_channels=(24, 240, 480))


def test_shufflenetv1_drop_path_on_residual_units_only():
    model = timm.create_model(G3, drop_path_rate=0.2)
    rates = [getattr(u.drop_path, "drop_prob", 0.0) for level in (2, 3, 4) for u in model.stages[level]]
    assert rates[0] == 0 and rates[-1] == pytest.approx(0.2 * 15 / 16)


@pytest.mark.parametrize("name", ["lo_shufflenetv1_g3_100", "lo_shufflenetv2_100"])
def test_downsampling_unit_keeps_its_type_without_stride(name):
    plain = timm.create_model(name)
    for kwargs in (dict(output_stride=8), dict(stage_strides=(2, 2, (2, 1), (2, 1), (2, 1)))):
        changed = timm.create_model(name, **kwargs)
        changed.load_state_dict(plain.state_dict())  # the same weights, so converted files still load
        assert [type(m) for m in changed.modules()] == [type(m) for m in plain.modules()]
    dilated = timm.create_model(name, output_stride=8)
    dilations = {m.dilation for m in dilated.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)}
    assert {(1, 1), (2, 2), (4, 4)} <= dilations
