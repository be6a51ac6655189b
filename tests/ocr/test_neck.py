"""The sequence necks ignore the padding of a batch."""
import pytest
import torch

from lightocr.ocr import CRNN
from lightocr.ocr.ctc import CTCHead
from lightocr.ocr.neck import build_neck


@pytest.mark.parametrize("residual", [False, True])
def test_bilstm_logits_alone_equal_logits_in_a_padded_batch(residual):
    torch.manual_seed(1)
    neck = build_neck("bilstm", 24, hidden_size=16, num_layers=2, residual=residual).eval()
    head = CTCHead(neck.out_channels, 7).eval()
    line = torch.randn(1, 11, 24)  # an encoded line of 11 time steps
    # in a batch padded to three times its length, with junk in the padding and a longer neighbour
    batch = torch.randn(3, 33, 24) * 5
    batch[1, :11] = line[0]
    lengths = torch.tensor([33, 11, 20])
    with torch.no_grad():
        alone = head(neck(line, torch.tensor([11])))[0]
        padded = head(neck(batch, lengths))[1, :11]
        unpacked = head(neck(batch))[1, :11]
    assert (alone - padded).abs().max() < 1e-5
    assert (alone - unpacked).abs().max() > 1e-3  # the backward LSTM would otherwise start in the padding


def test_crnn_takes_widths_through_to_the_neck():
    model = CRNN(5, backbone="lo_mobilenetv3_small_050", neck_kwargs=dict(hidden_size=8)).eval()
    images = torch.randn(2, 3, 32, 96)
    with torch.no_grad():
        full = model(images)
        masked = model(images, torch.tensor([96, 40]))
    torch.testing.assert_close(masked[0], full[0], rtol=0, atol=1e-5)  # a line that fills its width is unchanged
    assert not torch.allclose(full[1], masked[1])
