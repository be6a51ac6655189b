"""The model contract, swept over every registered variant."""
import pytest
import timm
import torch
from timm.data import resolve_data_config

import lightocr
from .helpers import level_sizes

ALL = lightocr.list_models()


def test_registry_lists_every_variant_under_one_scheme():
    assert len(ALL) >= 15
    assert all(name.startswith("lo_") for name in ALL)
    assert set(ALL) <= set(timm.list_models("lo_*"))
    # the scheme never shadows a timm model name
    assert not set(ALL) & set(timm.list_models(exclude_filters=["lo_*"]))


@pytest.mark.parametrize("name", ALL)
def test_classifier_and_features(name):
    model = timm.create_model(name, num_classes=7).eval()
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        assert model(x).shape == (2, 7)
        features = model.extract_features(x)
    levels = 4 if name.startswith("lo_squeezenet") else 5
    assert len(features) == len(model.feature_info) == len(model.stages) == levels
    heights, widths = level_sizes(name, 96, [2] * levels), level_sizes(name, 128, [2] * levels)
    for level, (feature, info) in enumerate(zip(features, model.feature_info)):
        assert info["reduction"] == 2 ** (level + 1)
        assert info["stride"] == (2 ** (level + 1),) * 2
        # a tapped level's feature is inside the next stage's first block (aligned Xception)
        assert info["module"].startswith(f"stages.{level + 1}.0." if level in model.tapped_levels else f"stages.{level}")
        assert feature.shape == (2, info["num_chs"], heights[level], widths[level])
    with torch.no_grad():
        last = model.forward_features(x)
        assert last.shape[1] == model.num_features
        assert model.forward_head(last, pre_logits=True).shape == (2, model.head_hidden_size)
    assert model.get_classifier().out_features == 7


@pytest.mark.parametrize("name", ALL)
def test_features_only_through_timm(name):
    reference = timm.create_model(name)
    last = len(reference.feature_info) - 1
    indices = (1, last - 1, last)
    backbone = timm.create_model(name, features_only=True, out_indices=indices).eval()
    assert backbone.feature_info.channels() == [reference.feature_info[i]["num_chs"] for i in indices]
    assert backbone.feature_info.reduction() == [2 ** (i + 1) for i in indices]
    x = torch.randn(1, 3, 64, 64)
    shapes = [tuple(f.shape) for f in backbone(x)]
    sizes = level_sizes(name, 64, [2] * (last + 1))
    assert shapes == [(1, c, sizes[i], sizes[i]) for c, i in zip(backbone.feature_info.channels(), indices)]
    # by default every level of the family
    assert len(timm.create_model(name, features_only=True).feature_info) == last + 1


@pytest.mark.parametrize("name", ALL)
def test_pretrained_cfg_resolves(name):
    config = resolve_data_config({}, model=timm.create_model(name))
    assert config["input_size"] == ((3, 299, 299) if name.startswith("lo_xception") else (3, 224, 224))
    assert len(config["mean"]) == len(config["std"]) == 3


@pytest.mark.parametrize("name", ALL)
def test_num_classes_zero_gives_pooled_features(name):
    model = timm.create_model(name, num_classes=0).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, model.head_hidden_size)


@pytest.mark.parametrize("name", ALL)
def test_grayscale_and_odd_sizes(name):
    model = timm.create_model(name, in_chans=1, num_classes=5).eval()
    with torch.no_grad():
        assert model(torch.randn(3, 1, 33, 97)).shape == (3, 5)
        # an unpadded stem: the smallest input reaches 1x1 at the last level
        smallest = {"lo_squeezenet1_0": 29, "lo_squeezenet1_1": 25, "lo_xception": 7}.get(name)
        if smallest:
            assert model.extract_features(torch.randn(1, 1, smallest, smallest))[-1].shape[-2:] == (1, 1)
            with pytest.raises(RuntimeError, match="Kernel size can't be greater|Output size is too small"):
                model(torch.randn(1, 1, 5, 5))
            return
        # 2x2 input: 1x1 after the stem and after every later stage
        assert [f.shape[-2:] for f in model.extract_features(torch.randn(1, 1, 2, 2))] == [(1, 1)] * 5


@pytest.mark.parametrize("name", ALL)
def test_torchscript_forward_backward(name):
    model = timm.create_model(name, num_classes=4)
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 64, 64)
    out = scripted(x)
    out.sum().backward()
    model.eval()
    scripted.eval()
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))


@pytest.mark.parametrize("name", ALL)
def test_fx_forward_backward(name):
    model = timm.create_model(name, num_classes=4)
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, 3, 64, 64)
    traced(x).sum().backward()
    assert all(p.grad is not None for p in traced.parameters())
    model.eval()
    traced.eval()
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x))


@pytest.mark.parametrize("name", ALL)
def test_reset_classifier(name):
    model = timm.create_model(name)
    model.reset_classifier(3)
    assert model.get_classifier().out_features == 3
    model.reset_classifier(0)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 64, 64)).shape == (1, model.head_hidden_size)


@pytest.mark.parametrize("pool,mult", [("avg", 1), ("max", 1), ("avgmax", 1), ("catavgmax", 2)])
def test_global_pool(pool, mult):
    model = timm.create_model("lo_mobilenetv2_050", global_pool=pool, num_classes=0).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 1280 * mult)
    # MobileNetV3's conv_head follows the pooled width
    model = timm.create_model("lo_mobilenetv3_small_100", global_pool=pool, num_classes=3).eval()
    assert model.conv_head.in_channels == 576 * mult
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)


def test_no_pooling_needs_no_classifier():
    model = timm.create_model("lo_mobilenetv2_050", global_pool="", num_classes=0).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1280, 2, 2)
    with pytest.raises(ValueError, match="global_pool=''"):
        timm.create_model("lo_mobilenetv2_050", global_pool="", num_classes=10)


def test_drop_rate_is_used_in_train_mode_only():
    model = timm.create_model("lo_mobilenetv3_small_100", drop_rate=0.5, num_classes=10)
    x = torch.randn(4, 3, 64, 64)
    model.train()
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(2)
    b = model(x)
    assert not torch.allclose(a, b)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))


def test_grad_checkpointing_gives_same_gradients():
    model = timm.create_model("lo_mobilenetv2_050", num_classes=3, drop_rate=0.0)
    x = torch.randn(2, 3, 64, 64)
    model(x).sum().backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.set_grad_checkpointing(True)
    model(x).sum().backward()
    for g, p in zip(plain, model.parameters()):
        torch.testing.assert_close(p.grad, g)


def test_batch_of_one_in_train_mode():
    model = timm.create_model("lo_mobilenetv3_small_100", num_classes=3).train()
    assert model(torch.randn(1, 3, 224, 224)).shape == (1, 3)
    # BatchNorm cannot normalise a single value per channel: torch says why
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        model(torch.randn(1, 3, 16, 16))
