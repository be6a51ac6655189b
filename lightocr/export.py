"""ONNX export: any zoo network (classifier or ``features_only`` backbone) and the checkpoints of both tasks, with
what a reader needs written into the file as metadata, and int8 dynamic quantization with ONNX Runtime's tools.

A recognition model takes ``images`` ``(batch, channels, height, width)`` (float32, normalized and padded as the
``lightocr.geometry`` metadata says) and ``widths`` ``(batch,)`` (int64, each line's width before padding), and
gives ``logits`` ``(batch, time, classes)`` (CTC, blank at index 0, then ``lightocr.charset``) and ``lengths`` (the
valid time steps of each line): the BiLSTM runs over each line's own steps (ONNX's ``sequence_lens``), so a line
reads the same alone and in a padded batch. A classification model takes ``images`` and gives ``logits``.

Needs the ``onnx`` extra: ``pip install "lightocr[onnx]"``.
"""
from __future__ import annotations

import io
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .errors import MissingPackageError

ONNX_EXTRA = 'pip install "lightocr[onnx]"'
DEFAULT_OPSET = 17
KEY_PREFIX = "lightocr."
# the metadata each kind of exported model must carry for a reader (``lightocr.inference``)
REQUIRED_METADATA = {
    "text-recognition": ("task", "charset", "case_sensitive", "geometry", "min_width"),
    "image-classification": ("task", "classes", "input_settings"),
    "network": ("task",),
}


def require(module: str, purpose: str):
    """Import an optional dependency, or stop with the extra that installs it."""
    try:
        return __import__(module)
    except ImportError:
        raise MissingPackageError(f"{purpose} needs the {module} package: {ONNX_EXTRA}") from None


class RecognizerGraph(nn.Module):
    """A CRNN as exported: ``(images, widths) -> (logits, lengths)``, the BiLSTM packed by the lengths."""

    def __init__(self, crnn: nn.Module):
        super().__init__()
        self.crnn = crnn

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        features = self.crnn.encoder(images)
        lengths = self.crnn.sequence_lengths(widths).clamp(1, features.shape[1])
        return self.crnn.head(self.crnn.neck(features, lengths)), lengths


def _export(module: nn.Module, path: Path, example: Tuple[torch.Tensor, ...], input_names: Sequence[str],
            output_names: Sequence[str], dynamic_axes: Dict[str, Dict[int, str]], opset: int,
            metadata: Dict[str, Any]) -> Path:
    """TorchScript-based export (it maps packed LSTMs to ONNX's ``sequence_lens``), then the metadata."""
    onnx = require("onnx", "ONNX export")
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes on Python shape checks that the shapes given never take
        torch.onnx.export(module.eval(), example, buffer, dynamo=False, opset_version=opset,
                          input_names=list(input_names), output_names=list(output_names), dynamic_axes=dynamic_axes,
                          do_constant_folding=True)
    model = onnx.load_from_string(buffer.getvalue())
    set_metadata(model, metadata)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def set_metadata(model, metadata: Dict[str, Any]) -> None:
    """Write ``metadata`` into an ``onnx.ModelProto`` as ``lightocr.<key>`` entries (JSON values)."""
    from . import __version__
    values = {"version": __version__, **metadata}
    kept = [p for p in model.metadata_props if not p.key.startswith(KEY_PREFIX)]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = KEY_PREFIX + key, json.dumps(value)


def export_onnx(model: nn.Module, path: Union[str, Path], input_size: Optional[Sequence[int]] = None,
                dynamic_size: bool = True, opset: int = DEFAULT_OPSET,
                metadata: Optional[Dict[str, Any]] = None) -> Path:
    """Export a network that takes one image batch: a zoo classifier (``logits``) or a ``features_only`` backbone
    (``features_0`` ... one per level), with a dynamic batch, and a dynamic height and width unless
    ``dynamic_size=False``. ``input_size``: ``(channels, height, width)`` of the example (default: the
    model's ``pretrained_cfg``)."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = tuple(input_size or cfg.get("input_size", (3, 224, 224)))
    example = torch.randn(1, *size)
    with torch.no_grad():
        outputs = model.eval()(example)
    names = ["logits"] if isinstance(outputs, torch.Tensor) else [f"features_{i}" for i in range(len(outputs))]
    spatial = {2: "height", 3: "width"} if dynamic_size else {}
    axes = {"images": {0: "batch", **spatial}}
    for name in names:
        axes[name] = {0: "batch", **(spatial if name.startswith("features") else {})}
    info = dict(task="network", input_size=list(size), outputs=names,
                mean=list(cfg.get("mean", ())), std=list(cfg.get("std", ())), **(metadata or {}))
    return _export(model, Path(path), (example,), ["images"], names, axes, opset, info)


def export_task(task, path: Union[str, Path], opset: int = DEFAULT_OPSET) -> Path:
    """Export a trained ``TextRecognitionTask`` or ``ImageClassificationTask`` with its reader's metadata: for
    text, the charset, case rule, line geometry (height, width rule, channels, normalization, padding) and the
    narrowest line the encoder takes; for images, the class list and input settings (size, normalization,
    evaluation transforms)."""
    from .tasks import ImageClassificationTask, TextRecognitionTask

    task = task.cpu().eval()
    hparams = {k: v for k, v in task.hparams.items() if isinstance(v, (str, int, float, bool, type(None)))}
    if isinstance(task, TextRecognitionTask):
        geometry, crnn = task.geometry, task.model
        width = max(crnn.encoder.min_width, min(geometry.max_width, 10 * geometry.height))
        # two lines, the second narrower: the traced graph packs the BiLSTM by each line's steps
        images = torch.randn(2, geometry.channels, geometry.height, width)
        widths = torch.tensor([width, max(crnn.encoder.min_width, width // 2)])
        metadata = dict(task="text-recognition", charset=task.charset.symbols,
                        case_sensitive=task.charset.case_sensitive, geometry=geometry.as_dict(),
                        min_width=crnn.encoder.min_width, beam_width=task.decoder.beam_width, hparams=hparams)
        axes = {"images": {0: "batch", 3: "width"}, "widths": {0: "batch"}, "logits": {0: "batch", 1: "time"},
                "lengths": {0: "batch"}}
        return _export(RecognizerGraph(crnn), Path(path), (images, widths), ["images", "widths"],
                       ["logits", "lengths"], axes, opset, metadata)
    if isinstance(task, ImageClassificationTask):
        settings = dict(task.hparams.input_settings)
        images = torch.randn(1, task.hparams.in_chans, settings["size"], settings["size"])
        metadata = dict(task="image-classification", classes=task.classes, input_settings=settings, hparams=hparams)
        return _export(task.model, Path(path), (images,), ["images"], ["logits"],
                       {"images": {0: "batch"}, "logits": {0: "batch"}}, opset, metadata)
    raise TypeError(f"export_task takes a TextRecognitionTask or an ImageClassificationTask, got {type(task).__name__}")


def quantize_int8(source: Union[str, Path], target: Union[str, Path]) -> Path:
    """Dynamic int8 quantization of an exported model (ONNX Runtime's ``quantize_dynamic``: int8 weights,
    activations quantized at run time), keeping its lightocr metadata."""
    onnx = require("onnx", "int8 quantization")
    require("onnxruntime", "int8 quantization")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    original = onnx.load(str(source))
    with tempfile.TemporaryDirectory() as folder:
        staged = Path(folder) / "int8.onnx"
        quantize_dynamic(str(source), str(staged), weight_type=QuantType.QInt8)
        quantized = onnx.load(str(staged))
    quantized.metadata_props.extend(p for p in original.metadata_props
                                    if p.key not in {q.key for q in quantized.metadata_props})
    entry = quantized.metadata_props.add()
    entry.key, entry.value = KEY_PREFIX + "quantization", json.dumps("int8-dynamic")
    onnx.save(quantized, str(target))
    return Path(target)
