"""The OCR backbone adapter over every zoo network and a plain timm model."""
import pytest
import torch

import lightocr
from lightocr.ocr import CRNN, BackboneEncoder


@pytest.mark.parametrize("name", lightocr.list_models())
def test_every_zoo_network_keeps_the_width(name):
    encoder = BackboneEncoder(name).eval()
    with torch.no_grad():
        sequence = encoder(torch.randn(2, 3, 32, 320))
    assert sequence.shape == (2, 80, encoder.out_channels)
    assert encoder.width_reduction == 4 and encoder.height_reduction == 32


@pytest.mark.parametrize("name", ["lo_mobilenetv1_025", "lo_mobilenetv2_035", "lo_mobilenetv3_small_050",
                                  "lo_mobilenetv3_large_050"])
def test_sequence_length_is_the_encoders_real_output_width(name):
    encoder = BackboneEncoder(name).eval()
    model = CRNN(5, backbone=name, neck="none")
    with torch.no_grad():
        for width in (1, 2, 3, 5, 8, 13, 31, 64, 97, 101, 255):
            measured = encoder(torch.randn(1, 3, 32, width)).shape[1]
            assert encoder.sequence_length(width) == measured, width
            assert int(model.sequence_lengths(torch.tensor([width]))) == measured, width


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
