"""Reference weights: conversion, equality with the reference implementation, loading saved files."""
import pickle

import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

import lightocr
from .helpers import num_params, randomize_batchnorm, relative_max_diff

WITH_REFERENCE = [name for name in lightocr.list_models() if lightocr.reference(name)]


def test_references_named_by_the_issue():
    assert lightocr.reference("lo_mobilenetv1_100") == "timm:mobilenetv1_100"
    assert lightocr.reference("lo_mobilenetv2_100") == "torchvision:mobilenet_v2"
    assert lightocr.reference("lo_mobilenetv3_large_100") == "torchvision:mobilenet_v3_large"
    assert lightocr.reference("lo_mobilenetv3_small_100") == "torchvision:mobilenet_v3_small"
    for width in ("035", "050", "075", "140"):
        assert lightocr.reference(f"lo_mobilenetv2_{width}") == f"timm:mobilenetv2_{width}"
    assert lightocr.reference("lo_mobilenetv3_large_075") == "timm:mobilenetv3_large_075"
    assert lightocr.reference("lo_mobilenetv3_small_075") == "timm:mobilenetv3_small_075"
    assert lightocr.reference("lo_mobilenetv1_050") is None
    for width, suffix in (("050", "0_5"), ("100", "1_0"), ("150", "1_5"), ("200", "2_0")):
        assert lightocr.reference(f"lo_shufflenetv2_{width}") == f"torchvision:shufflenet_v2_x{suffix}"
    assert lightocr.reference("lo_squeezenet1_0") == "torchvision:squeezenet1_0"
    assert lightocr.reference("lo_squeezenet1_1") == "torchvision:squeezenet1_1"


@pytest.mark.parametrize("name", WITH_REFERENCE)
@pytest.mark.parametrize("num_classes", [1000, 10])
def test_converted_reference_gives_same_logits(name, num_classes):
    reference = randomize_batchnorm(lightocr.create_reference(name, num_classes=num_classes)).eval()
    ours = timm.create_model(name, num_classes=num_classes).eval()
    assert num_params(ours) == num_params(reference)
    ours.load_state_dict(lightocr.convert_state_dict(name, reference.state_dict()), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert relative_max_diff(ours(x), reference(x)) < 1e-5


def reference_parts(name, reference):
    """The reference's own feature map and pre-logits functions (torchvision: ``features`` and the classifier
    up to its last Linear; timm: ``forward_features`` and ``forward_head(pre_logits=True)``)."""
    if lightocr.reference(name).startswith("timm:"):
        return reference.forward_features, lambda x: reference.forward_head(reference.forward_features(x), True)
    if name.startswith("lo_shufflenetv2"):  # torchvision's ShuffleNetV2 has no `features`: its forward up to conv5
        features = torch.nn.Sequential(reference.conv1, reference.maxpool, reference.stage2, reference.stage3,
                                       reference.stage4, reference.conv5)
        return features, lambda x: features(x).mean([2, 3])
    pool = lambda x: torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # noqa: E731
    if name.startswith("lo_squeezenet"):  # its classifier is a conv before the pool: pre-logits are pooled features
        return reference.features, lambda x: pool(reference.features(x))
    head = torch.nn.Sequential(*list(reference.classifier)[:-1])
    return reference.features, lambda x: head(pool(reference.features(x)))


@pytest.mark.parametrize("name", WITH_REFERENCE)
def test_features_and_pre_logits_equal_the_reference(name):
    reference = randomize_batchnorm(lightocr.create_reference(name)).eval()
    ours = timm.create_model(name).eval()
    ours.load_state_dict(lightocr.convert_state_dict(name, reference.state_dict()))
    features, pre_logits = reference_parts(name, reference)
    x = torch.randn(2, 3, 160, 160)
    with torch.no_grad():
        assert relative_max_diff(ours.forward_features(x), features(x)) < 1e-5
        assert relative_max_diff(ours.forward_head(ours.forward_features(x), pre_logits=True), pre_logits(x)) < 1e-5


@pytest.mark.parametrize("name", WITH_REFERENCE)
@pytest.mark.parametrize("num_classes", [0, 10])
@pytest.mark.parametrize("in_chans", [1, 3])
def test_fine_tune_from_a_reference_file(tmp_path, name, num_classes, in_chans):
    """A torchvision or timm weight file, a new head and grayscale input: timm's pretrained path as users call it."""
    reference = randomize_batchnorm(lightocr.create_reference(name)).eval()
    path = tmp_path / "reference.pth"
    torch.save(reference.state_dict(), path)
    ours = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)),
                             num_classes=num_classes, in_chans=in_chans).eval()
    assert ours.num_classes == num_classes
    _, pre_logits = reference_parts(name, reference)
    gray = torch.randn(2, 1, 128, 128)
    x = gray if in_chans == 1 else gray.repeat(1, 3, 1, 1)
    with torch.no_grad():
        # a grayscale stem is the sum of the RGB filters: the same as the reference on a gray image
        assert relative_max_diff(ours.forward_head(ours.forward_features(x), pre_logits=True),
                                 pre_logits(gray.repeat(1, 3, 1, 1))) < 1e-5
        assert ours(x).shape == ((2, 10) if num_classes else (2, ours.head_hidden_size))


def test_weight_file_of_another_architecture_names_file_and_layer(tmp_path):
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(lightocr.create_reference("lo_mobilenetv2_100").state_dict(), path)
    with pytest.raises(ValueError, match=r"mobilenet_v2\.pth does not fit lo_mobilenetv3_large_100.*(differs at|the weights)"):
        timm.create_model("lo_mobilenetv3_large_100", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    ours = tmp_path / "ours_small.safetensors"
    save_file(timm.create_model("lo_mobilenetv3_small_050").state_dict(), ours)
    with pytest.raises(ValueError, match=r"ours_small\.safetensors does not fit lo_mobilenetv3_small_100: first "
                                         r"mismatch at 'stages\.1\.0"):
        timm.create_model("lo_mobilenetv3_small_100", pretrained=True, pretrained_cfg_overlay=dict(file=str(ours)))


def test_convert_state_dict_without_classifier():
    reference = timm.create_model("mobilenetv2_050", num_classes=0)
    ours = timm.create_model("lo_mobilenetv2_050", num_classes=0)
    ours.load_state_dict(lightocr.convert_state_dict("lo_mobilenetv2_050", reference.state_dict()))


def test_convert_rejects_another_architecture():
    other = lightocr.create_reference("lo_mobilenetv2_100").state_dict()
    with pytest.raises(ValueError, match=r"does not fit lo_mobilenetv3_large_100.*shape differs at 'stem.conv.weight'"):
        lightocr.convert_state_dict("lo_mobilenetv3_large_100", other)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
@pytest.mark.parametrize("name", ["lo_mobilenetv3_small_075", "lo_shufflenetv1_g8_050", "lo_shufflenetv2_050",
                                  "lo_squeezenet1_1"])
def test_pretrained_file_through_timm(tmp_path, suffix, name):
    source = randomize_batchnorm(timm.create_model(name, num_classes=12)).eval()
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        save_file(source.state_dict(), path)
    else:
        torch.save(source.state_dict(), path)
    loaded = timm.create_model(name, num_classes=12, pretrained=True,
                               pretrained_cfg_overlay=dict(file=str(path), num_classes=12)).eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), source(x), rtol=0, atol=0)


def test_pretrained_reference_file_is_converted_on_load(tmp_path):
    reference = randomize_batchnorm(lightocr.create_reference("lo_mobilenetv2_100")).eval()
    path = tmp_path / "mobilenet_v2_torchvision.pth"
    torch.save(reference.state_dict(), path)
    ours = timm.create_model("lo_mobilenetv2_100", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        assert relative_max_diff(ours.eval()(x), reference(x)) < 1e-5


def test_grayscale_from_rgb_weights(tmp_path):
    source = timm.create_model("lo_mobilenetv3_small_100")
    path = tmp_path / "rgb.safetensors"
    save_file(source.state_dict(), path)
    gray = timm.create_model("lo_mobilenetv3_small_100", in_chans=1, pretrained=True,
                             pretrained_cfg_overlay=dict(file=str(path)))
    # timm sums the RGB filters of the first conv
    torch.testing.assert_close(gray.stem.conv.weight, source.stem.conv.weight.sum(1, keepdim=True))


class Payload:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_pickled_objects_are_refused(tmp_path, capfd):
    path = tmp_path / "evil.pth"
    state = timm.create_model("lo_mobilenetv3_small_050").state_dict()
    torch.save({"state_dict": state, "extra": Payload()}, path)
    with pytest.raises((RuntimeError, pickle.UnpicklingError), match="weights_only"):
        timm.create_model("lo_mobilenetv3_small_050", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    assert "unpickled!" not in capfd.readouterr().out


def test_state_dict_mismatch_is_described():
    model = timm.create_model("lo_mobilenetv2_050", num_classes=10)
    state = timm.create_model("lo_mobilenetv2_050", num_classes=20).state_dict()
    del state["stem.conv.weight"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "1 missing keys: stem.conv.weight" in message
    assert "1 unexpected keys: extra.weight" in message
    assert "classifier.weight: checkpoint (20, 1280) vs model (10, 1280)" in message
    assert "convert_state_dict" in message
