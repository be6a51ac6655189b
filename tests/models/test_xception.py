"""Xception and aligned Xception-65: the issue's figures, DeepLab's low-level feature and output strides, and the
feature taps against timm's own."""
import pytest
import timm
import torch
from timm.data import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD

import lightocr
from .helpers import check_size, randomize_batchnorm, relative_max_diff


@pytest.mark.parametrize("name,params,gmacs", [("lo_xception", 22_855_952, 8.36), ("lo_xception65", 39_916_312, 13.85)])
def test_issue_table(name, params, gmacs):
    check_size(name, params, gmacs * 1e9, size=299, rel=0.005)


def test_xception65_as_a_backbone_at_output_stride_16():
    check_size("lo_xception65", 37_867_312, 16.18e9, size=299, rel=0.005, num_classes=0, output_stride=16)


@pytest.mark.parametrize("name", ["lo_xception", "lo_xception65"])
def test_pretrained_cfg_is_the_references(name):
    cfg = timm.create_model(name).pretrained_cfg
    assert cfg["input_size"] == (3, 299, 299) and cfg["pool_size"] == (10, 10)
    assert cfg["mean"] == IMAGENET_INCEPTION_MEAN and cfg["std"] == IMAGENET_INCEPTION_STD
    assert cfg["crop_pct"] == {"lo_xception": 0.8975, "lo_xception65": 0.903}[name]
    assert lightocr.reference(name) == {"lo_xception": "timm:legacy_xception", "lo_xception65": "timm:xception65"}[name]


@pytest.mark.parametrize("output_stride", [32, 16, 8])
def test_low_level_feature_at_every_output_stride(output_stride):
    """DeepLabv3+ at 513x513: the decoder's stride-4 feature is 256 channels, 129x129, whatever the output stride;
    the last map is 17, 33 or 65 pixels wide (DeepLab: 33 at 16, 65 at 8)."""
    model = timm.create_model("lo_xception65", num_classes=0, output_stride=output_stride).eval()
    index = model.low_level_index()
    assert index == 1
    info = model.feature_info[index]
    assert (info["num_chs"], info["reduction"], info["module"]) == (256, 4, "stages.2.0.stack.act3")
    with torch.no_grad():
        features = model.extract_features(torch.randn(1, 3, 513, 513))
    assert features[index].shape == (1, 256, 129, 129)
    assert features[-1].shape[-1] == {32: 17, 16: 33, 8: 65}[output_stride]
    assert [f.shape[1] for f in features] == [128, 256, 728, 1024, 2048]


@pytest.mark.parametrize("output_stride", [32, 16, 8])
def test_original_xception_low_level_feature(output_stride):
    model = timm.create_model("lo_xception", output_stride=output_stride).eval()
    with torch.no_grad():
        low = model.extract_features(torch.randn(1, 3, 299, 299))[model.low_level_index()]
    # unpadded stem: 299 -> 149 -> 147, then block 1's pool: 74
    assert low.shape == (1, 128, 74, 74) and model.feature_info[1]["reduction"] == 4


def test_features_only_selects_the_low_level_feature():
    backbone = timm.create_model("lo_xception65", features_only=True, out_indices=(1, 4), output_stride=16).eval()
    assert backbone.feature_info.channels() == [256, 2048]
    assert backbone.feature_info.reduction() == [4, 16]
    with torch.no_grad():
        low, high = backbone(torch.randn(1, 3, 129, 129))
    assert low.shape == (1, 256, 33, 33) and high.shape == (1, 2048, 9, 9)


def test_taps_equal_timms_xception65_features():
    """timm taps xception65 where DeepLab does (the input of each strided separable conv): same weights, same maps."""
    reference = randomize_batchnorm(timm.create_model("xception65")).eval()
    ours = timm.create_model("lo_xception65").eval()
    ours.load_state_dict(lightocr.convert_state_dict("lo_xception65", reference.state_dict()))
    x = torch.randn(1, 3, 160, 160)
    with torch.no_grad():
        theirs = reference.forward_intermediates(x, intermediates_only=True)
        mine = ours.extract_features(x)
        assert len(mine) == len(theirs) == 5
        for a, b in zip(mine, theirs):
            assert relative_max_diff(a, b) < 1e-5
        early = ours.forward_intermediates(x, indices=[1], stop_early=True, intermediates_only=True)
        assert relative_max_diff(early[0], theirs[1]) < 1e-5


def test_families_without_a_low_level_feature_say_which_have_one():
    with pytest.raises(ValueError, match=r"MobileNetV2 has no low-level feature.*families with one: Xception, "
                                         r"XceptionAligned"):
        timm.create_model("lo_mobilenetv2_050").low_level_index()


def test_output_stride_4_is_refused():
    with pytest.raises(ValueError, match="output_stride must be 8, 16 or 32"):
        timm.create_model("lo_xception65", output_stride=4)


def test_dilated_blocks_keep_their_weights():
    plain = timm.create_model("lo_xception")
    dilated = timm.create_model("lo_xception", output_stride=8)
    dilated.load_state_dict(plain.state_dict())
    pools = [m for m in dilated.modules() if isinstance(m, torch.nn.MaxPool2d)]
    assert [p.stride for p in pools] == [(2, 2), (2, 2), (1, 1), (1, 1)]  # the strided layer keeps its 3x3 window
    assert all(p.kernel_size == 3 for p in pools)
