"""ONNX export: every zoo architecture (classifier and feature backbone) and the CRNN give PyTorch's outputs under ONNX
Runtime (max abs difference 1e-4, float32), as does PyTorch's own inference path (BatchNorm folded); the metadata a
reader needs is in the file; int8 quantization."""
import json
import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import timm
import torch

import lightocr
from lightocr.export import KEY_PREFIX, export_onnx, export_task, quantize_int8
from lightocr.inference import fold_batchnorm
from lightocr.tasks import TextRecognitionTask

from .models.helpers import randomize_batchnorm

TOLERANCE = 1e-4
# one width of each architecture (the smallest): a width multiplier changes channel counts, not the exported graph;
# every variant's own outputs are checked against its reference in tests/models
ARCHITECTURES = sorted({re.sub(r"_\d{3}$", "", name): name for name in reversed(lightocr.list_models())}.values())


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def metadata(path):
    return {p.key[len(KEY_PREFIX):]: json.loads(p.value) for p in onnx.load(str(path)).metadata_props
            if p.key.startswith(KEY_PREFIX)}


def max_abs(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_zoo_architecture_exports_and_folds_with_parity(tmp_path, name):
    """Exported at 64x64 with a dynamic batch and size, run at another batch and size; then the PyTorch inference
    path (``fold_batchnorm``) on the same network: every BatchNorm that follows a convolution is folded (SqueezeNet
    has none; Xception keeps the ones after its pre-activation ReLUs) and the outputs stay PyTorch's."""
    model = randomize_batchnorm(timm.create_model(name, num_classes=10)).eval()
    path = export_onnx(model, tmp_path / "model.onnx", input_size=(3, 64, 64))
    x = torch.randn(2, 3, 72, 80)
    with torch.no_grad():
        expected = model(x)
    (logits,) = session(path).run(None, {"images": x.numpy()})
    assert logits.shape == (2, 10)
    assert max_abs(logits, expected) < TOLERANCE
    assert metadata(path)["task"] == "network" and metadata(path)["input_size"] == [3, 64, 64]

    norms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    folded = fold_batchnorm(model, x[:1])
    left = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert left == norms - folded and (folded > 0) == (not name.startswith("lo_squeezenet"))
    assert left == 0 or name.startswith("lo_xception")
    with torch.no_grad():
        assert max_abs(model(x), expected) < TOLERANCE


FEATURE_MODELS = [("lo_mobilenetv3_small_100", None), ("lo_shufflenetv1_g3_100", None), ("lo_shufflenetv2_100", None),
                  ("lo_squeezenet1_1", None), ("lo_rexnet_lite_100", None), ("lo_xception65", (1, 4))]


@pytest.mark.parametrize("name,out_indices", FEATURE_MODELS, ids=[m for m, _ in FEATURE_MODELS])
def test_feature_backbones_export_with_parity(tmp_path, name, out_indices):
    """``features_only`` models: one output per level (Xception-65 with DeepLab's stride-4 low-level tap)."""
    kwargs = dict(out_indices=out_indices) if out_indices else {}
    model = randomize_batchnorm(timm.create_model(name, features_only=True, **kwargs)).eval()
    path = export_onnx(model, tmp_path / "features.onnx", input_size=(3, 64, 96))
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        expected = model(x)
    outputs = session(path).run(None, {"images": x.numpy()})
    assert [o.shape for o in outputs] == [tuple(e.shape) for e in expected]
    assert max(max_abs(o, e) for o, e in zip(outputs, expected)) < TOLERANCE
    assert metadata(path)["outputs"] == [f"features_{i}" for i in range(len(expected))]


@pytest.fixture(scope="module")
def recognizer():
    task = TextRecognitionTask(charset=list("0123456789abcdefghijklmnopqrstuvwxyz"), case_sensitive=False,
                               neck_kwargs=dict(hidden_size=48, residual=True))
    randomize_batchnorm(task.model)
    return task.eval()


def test_crnn_exports_with_parity_at_several_widths_and_batches(tmp_path, recognizer):
    """Padded batches too: each line's valid steps equal PyTorch's, whose BiLSTM also stops at the line's end."""
    path = export_task(recognizer, tmp_path / "crnn.onnx")
    runner = session(path)
    for batch, width in [(1, 8), (1, 100), (3, 320), (5, 200), (2, 1000)]:
        images = torch.randn(batch, 3, 32, width)
        widths = torch.randint(max(4, width // 3), width + 1, (batch,))
        widths[0] = width
        with torch.no_grad():
            expected = recognizer.model(images, widths)
            lengths = recognizer.model.sequence_lengths(widths)
        logits, onnx_lengths = runner.run(None, {"images": images.numpy(), "widths": widths.numpy()})
        assert onnx_lengths.tolist() == lengths.clamp(1, expected.shape[1]).tolist()
        for row, steps in enumerate(onnx_lengths.tolist()):
            assert max_abs(logits[row, :steps], expected[row, :steps]) < TOLERANCE, (batch, width, row)


def test_recognition_metadata_is_what_a_reader_needs(tmp_path, recognizer):
    values = metadata(export_task(recognizer, tmp_path / "crnn.onnx"))
    assert values["task"] == "text-recognition"
    assert values["charset"] == list("0123456789abcdefghijklmnopqrstuvwxyz") and values["case_sensitive"] is False
    assert values["geometry"] == dict(height=32, max_width=320, channels=3, pad_to="max", multiple=8, mean=0.5,
                                      std=0.5)
    assert values["min_width"] == recognizer.model.encoder.min_width
    assert values["version"] == lightocr.__version__


def test_int8_quantization_keeps_the_metadata_and_stays_close(tmp_path, recognizer):
    path = export_task(recognizer, tmp_path / "crnn.onnx")
    int8 = quantize_int8(path, tmp_path / "crnn.int8.onnx")
    assert int8.stat().st_size < 0.5 * path.stat().st_size
    values = metadata(int8)
    assert values["quantization"] == "int8-dynamic" and values["charset"] == metadata(path)["charset"]
    images, widths = torch.randn(2, 3, 32, 160), torch.tensor([160, 120])
    full = session(path).run(None, {"images": images.numpy(), "widths": widths.numpy()})[0]
    quantized = session(int8).run(None, {"images": images.numpy(), "widths": widths.numpy()})[0]
    # int8 is an approximation: its logits are correlated with the float ones, not equal
    assert np.corrcoef(full.ravel(), quantized.ravel())[0, 1] > 0.9
