"""The OCR backbone adapter over every zoo network and a plain timm model."""
import pytest
import torch

import lightocr
from lightocr.ocr import CRNN, BackboneEncoder, text_line_strides
from ..models.helpers import level_sizes


@pytest.mark.parametrize("name", lightocr.list_models())
def test_every_zoo_network_keeps_the_width(name):
    encoder = BackboneEncoder(name).eval()
    levels = lightocr.models.feature_levels(name)
    with torch.no_grad():
        sequence = encoder(torch.randn(2, 3, 32, 320))
    # the reference layers' arithmetic: 80 columns, or SqueezeNet's unpadded stem and rounding pools
    columns = level_sizes(name, 320, [2, 2] + [1] * (levels - 2))[-1]
    assert sequence.shape == (2, columns, encoder.out_channels)
    assert columns == {"lo_squeezenet1_0": 78, "lo_squeezenet1_1": 79, "lo_xception": 79}.get(name, 80)
    assert encoder.sequence_length(320) == columns
    assert encoder.width_reduction == 4 and encoder.height_reduction == 2 ** levels


def test_text_line_strides_follow_the_family():
    assert text_line_strides(5) == (2, 2, (2, 1), (2, 1), (2, 1))
    assert text_line_strides(4) == (2, 2, (2, 1), (2, 1))
    assert BackboneEncoder("lo_squeezenet1_1").body.feature_info.reduction() == [2, 4, 8, 16]


@pytest.mark.parametrize("name", ["lo_mobilenetv1_025", "lo_mobilenetv2_035", "lo_mobilenetv3_small_050",
                                  "lo_mobilenetv3_large_050", "lo_shufflenetv1_g8_050", "lo_shufflenetv2_050",
                                  "lo_squeezenet1_0", "lo_squeezenet1_1"])
def test_sequence_length_is_the_encoders_real_output_width(name):
    encoder = BackboneEncoder(name).eval()
    model = CRNN(5, backbone=name, neck="none")
    widths = (1, 2, 3, 5, 8, 9, 10, 11, 13, 31, 64, 97, 101, 255, 333, 641)
    with torch.no_grad():
        measured = [encoder(torch.randn(1, 3, 32, width)).shape[1] for width in widths]
    assert [encoder.sequence_length(w) for w in widths] == measured
    assert model.sequence_lengths(torch.tensor(widths)).tolist() == measured


def test_narrow_lines_are_padded_to_the_smallest_width():
    """SqueezeNet 1.0's 7x7 unpadded stem and rounding pools cannot take a line 4 pixels wide: it is padded to the
    smallest width that gives a column (9: 7x7 stride 2 -> 2, then 3x3 pools rounding up -> 1)."""
    encoder = BackboneEncoder("lo_squeezenet1_0").eval()
    assert encoder.min_width == 9
    with torch.no_grad():
        assert encoder(torch.randn(2, 3, 32, 4)).shape == (2, 1, 512)
    assert encoder.sequence_length(4) == 1


@pytest.mark.parametrize("name", ["lo_mobilenetv3_small_100", "lo_shufflenetv1_g3_100", "lo_shufflenetv2_100",
                                  "lo_squeezenet1_0", "lo_squeezenet1_1"])
def test_crnn_of_every_family_on_a_text_line(name):
    model = CRNN(37, backbone=name, neck_kwargs=dict(hidden_size=48)).eval()
    widths = torch.tensor([320, 200, 57])
    with torch.no_grad():
        logits = model(torch.randn(3, 3, 32, 320), widths)
    steps = model.sequence_lengths(widths)
    assert logits.shape == (3, model.encoder.sequence_length(320), 37)
    assert steps[0] == logits.shape[1] and (steps[1:] < steps[0]).all()


def test_taller_lines_are_pooled_to_one_row():
    encoder = BackboneEncoder("lo_mobilenetv3_small_050").eval()
    with torch.no_grad():
        assert encoder(torch.randn(1, 3, 48, 100)).shape == (1, 25, encoder.out_channels)


def test_plain_timm_features_only_model():
    encoder = BackboneEncoder("mobilenetv3_small_050", level=3).eval()
    assert encoder.width_reduction == 16
    with torch.no_grad():
        assert encoder(torch.randn(2, 3, 32, 320)).shape == (2, 20, encoder.out_channels)
    with pytest.raises(ValueError, match="keeps its own strides"):
        BackboneEncoder("mobilenetv3_small_050", stage_strides=(2, 2, 2, 2, 2))


def test_earlier_level_is_cheaper():
    full = BackboneEncoder("lo_mobilenetv2_050")
    early = BackboneEncoder("lo_mobilenetv2_050", level=3)
    assert sum(p.numel() for p in early.parameters()) < sum(p.numel() for p in full.parameters())
    assert early.out_channels == 48


def test_channel_mismatch_is_explained():
    gray = BackboneEncoder("lo_mobilenetv3_small_050", in_chans=1)
    with pytest.raises(ValueError, match=r"expects images of shape \(batch, 1, H, W\), got \(1, 3, 32, 64\)"):
        gray(torch.randn(1, 3, 32, 64))
    rgb = BackboneEncoder("lo_mobilenetv3_small_050")
    with pytest.raises(ValueError, match="in_chans"):
        rgb(torch.randn(1, 1, 32, 64))


def test_unknown_backbone():
    with pytest.raises(ValueError, match="did you mean"):
        BackboneEncoder("lo_mobilenetv3_smal_050")


@pytest.mark.parametrize("neck,width", [("bilstm", 192), ("linear", 96), ("none", 480)])
def test_crnn_necks(neck, width):
    kwargs = dict(hidden_size=96) if neck != "none" else {}
    model = CRNN(37, backbone="lo_mobilenetv3_large_050", neck=neck, neck_kwargs=kwargs)
    assert model.neck.out_channels == width
    assert model(torch.randn(2, 3, 32, 128)).shape == (2, 32, 37)


def test_paddleocr_size_class():
    # PaddleOCR's CRNN (MobileNetV3-large-0.5, BiLSTM 2x96, 37 classes) has about 1.45M parameters
    model = CRNN(37, backbone="lo_mobilenetv3_large_050", neck_kwargs=dict(hidden_size=96, num_layers=2))
    assert 1.3e6 < sum(p.numel() for p in model.parameters()) < 1.6e6
