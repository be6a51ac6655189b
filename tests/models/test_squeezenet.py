"""SqueezeNet: the issue's figures, the paper's Table 1 and its own head (a conv classifier before the pool)."""
import pytest
import timm
import torch
from torch import nn

import lightocr
from lightocr.models.squeezenet import Fire
from .helpers import check_size, randomize_batchnorm, relative_max_diff

ISSUE_TABLE = {"lo_squeezenet1_0": (1_248_424, 818.9e6), "lo_squeezenet1_1": (1_235_496, 349.2e6)}

# SqueezeNet paper, Table 1 (v1.0): (squeeze s1x1, expand e1x1 = e3x3) of fire2 ... fire9, and output sizes
TABLE1_FIRES = [(16, 64), (16, 64), (32, 128), (32, 128), (48, 192), (48, 192), (64, 256), (64, 256)]


@pytest.mark.parametrize("name", sorted(ISSUE_TABLE))
def test_issue_table(name):
    check_size(name, *ISSUE_TABLE[name])


def test_table1_fire_modules_and_sizes():
    model = timm.create_model("lo_squeezenet1_0").eval()
    fires = [m for m in model.modules() if isinstance(m, Fire)]
    assert [(f.squeeze.conv.out_channels, f.expand1x1.conv.out_channels) for f in fires] == TABLE1_FIRES
    assert all(f.expand3x3.conv.out_channels == f.expand1x1.conv.out_channels for f in fires)
    assert model.stem.conv.kernel_size == (7, 7) and model.stem.conv.out_channels == 96
    with torch.no_grad():
        sizes = [f.shape[-1] for f in model.extract_features(torch.randn(1, 3, 224, 224))]
    # Table 1 lists 111, 55, 27, 13 for its 224 input; torchvision's unpadded stem gives 109 and 54 before 27, 13
    assert sizes == [109, 54, 27, 13]
    assert [(i["num_chs"], i["reduction"]) for i in model.feature_info] == [(96, 2), (256, 4), (512, 8), (512, 16)]


def test_the_head_is_a_conv_classifier_then_the_pool():
    model = randomize_batchnorm(timm.create_model("lo_squeezenet1_1", num_classes=10)).eval()
    assert model.pretrained_cfg["classifier"] == "classifier.conv"
    assert not any(isinstance(m, nn.Linear) for m in model.modules())
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        features = model.forward_features(x)
        by_hand = torch.relu(nn.functional.conv2d(features, model.classifier.conv.weight,
                                                  model.classifier.conv.bias)).mean((2, 3))
        assert relative_max_diff(model(x), by_hand) < 1e-6
        assert model.forward_head(features, pre_logits=True).shape == (2, 512)
        torch.testing.assert_close(model.forward_head(features, pre_logits=True), features.mean((2, 3)))
    # no pooling: a map of class scores, one per position
    dense = timm.create_model("lo_squeezenet1_1", num_classes=10, global_pool="").eval()
    with torch.no_grad():
        assert dense(x).shape == (2, 10) + tuple(features.shape[-2:])
    with pytest.raises(ValueError, match="no catavgmax"):
        timm.create_model("lo_squeezenet1_1", global_pool="catavgmax")


def test_num_classes_zero_and_reset_classifier():
    model = timm.create_model("lo_squeezenet1_0", num_classes=0).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert model(x).shape == (1, 512)
    model.reset_classifier(7)
    assert model.get_classifier().out_features == 7
    assert model.classifier.conv.weight.shape == (7, 512, 1, 1)
    with torch.no_grad():
        assert model(x).shape == (1, 7)


def test_fine_tuning_drops_the_conv_classifier(tmp_path):
    reference = randomize_batchnorm(lightocr.create_reference("lo_squeezenet1_0")).eval()
    path = tmp_path / "squeezenet1_0.pth"
    torch.save(reference.state_dict(), path)
    model = timm.create_model("lo_squeezenet1_0", pretrained=True, num_classes=5,
                              pretrained_cfg_overlay=dict(file=str(path))).eval()
    assert model.classifier.conv.weight.shape == (5, 512, 1, 1)
    torch.testing.assert_close(model.stages[3][1].expand3x3.conv.weight, reference.features[12].expand3x3.weight)


def test_torchvision_default_initialization():
    model = timm.create_model("lo_squeezenet1_1")
    assert model.classifier.conv.weight.std().item() == pytest.approx(0.01, rel=0.1)
    assert all(m.bias.abs().max() == 0 for m in model.modules() if isinstance(m, nn.Conv2d))
