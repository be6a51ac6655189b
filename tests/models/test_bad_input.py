"""Bad input gets an error that says what was expected."""
import pytest
import timm
import torch

import lightocr


def test_wrong_channel_count_names_the_expectation():
    model = timm.create_model("lo_mobilenetv2_050", in_chans=1)
    with pytest.raises(AssertionError, match=r"expects input of shape \(batch, 1, height, width\).*in_chans=1"):
        model(torch.randn(2, 3, 64, 64))
    with pytest.raises(AssertionError, match="in_chans=3"):
        timm.create_model("lo_mobilenetv3_small_100").extract_features(torch.randn(2, 1, 64, 64))


def test_wrong_channel_count_scripted():
    scripted = torch.jit.script(timm.create_model("lo_mobilenetv1_025"))
    with pytest.raises(Exception, match="in_chans=3"):
        scripted(torch.randn(1, 4, 32, 32))


def test_unbatched_input():
    with pytest.raises(AssertionError, match=r"\(batch, 3, height, width\)"):
        timm.create_model("lo_mobilenetv1_025")(torch.randn(3, 32, 32))


def test_unknown_name_lists_close_names():
    with pytest.raises(ValueError, match="unknown lightocr model 'lo_mobilenetv2_10'.*lo_mobilenetv2_100"):
        lightocr.create_model("lo_mobilenetv2_10")
    with pytest.raises(ValueError, match="mobilenetv3_small"):
        lightocr.reference("lo_mobilenet_v3_small")
    with pytest.raises(ValueError, match="list_models"):
        lightocr.create_model("vit_base_patch16_224")


def test_create_model_passes_arguments_to_timm():
    model = lightocr.create_model("lo_mobilenetv3_small_050", num_classes=3, in_chans=1)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 3)


def test_bad_in_chans_and_num_classes():
    with pytest.raises(ValueError, match="in_chans must be at least 1"):
        timm.create_model("lo_mobilenetv2_050", in_chans=0)
    with pytest.raises(ValueError, match="num_classes must be >= 0"):
        timm.create_model("lo_mobilenetv2_050", num_classes=-1)
    with pytest.raises(ValueError, match="arch must be one of"):
        lightocr.models.mobilenetv3.MobileNetV3(arch="medium")
