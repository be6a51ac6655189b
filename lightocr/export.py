"""ONNX export: any zoo network (classifier or ``features_only`` backbone) and the checkpoints of both tasks, with
what a reader needs written into the file as metadata, and int8 dynamic quantization with ONNX Runtime's tools.

A task is exported as its class says (``export_graph``: the network, an example input, the names and dynamic
axes; ``export_metadata``: what its predictor needs), with ``lightocr.task`` naming the task (``TaskSpec.name``),
so that ``lightocr.predictor`` finds the predictor that reads the file.

Needs the ``onnx`` extra: ``pip install "lightocr[onnx]"``.
"""
from __future__ import annotations

import io
import json
import tempfile
import warnings
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .predictor import KEY_PREFIX, require

DEFAULT_OPSET = 17


@dataclass
class ExportGraph:
    """How a task is exported: the network (called with the inputs in order), an example of each input, the
    names of the inputs and outputs, and the axes that vary (``torch.onnx.export``'s ``dynamic_axes``)."""
    module: nn.Module
    example: Tuple[torch.Tensor, ...]
    input_names: Sequence[str]
    output_names: Sequence[str]
    dynamic_axes: Dict[str, Dict[int, str]]


def _export(graph: ExportGraph, path: Path, opset: int, metadata: Dict[str, Any]) -> Path:
    """TorchScript-based export (it maps packed LSTMs to ONNX's ``sequence_lens``), then the metadata."""
    onnx = require("onnx", "ONNX export")
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes on Python shape checks that the shapes given never take
        torch.onnx.export(graph.module.eval(), graph.example, buffer, dynamo=False, opset_version=opset,
                          input_names=list(graph.input_names), output_names=list(graph.output_names),
                          dynamic_axes=graph.dynamic_axes, do_constant_folding=True)
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
    return _export(ExportGraph(model, (example,), ["images"], names, axes), Path(path), opset, info)


def export_task(task, path: Union[str, Path], opset: int = DEFAULT_OPSET) -> Path:
    """Export a trained task (any registered ``BaseTask``) with what its predictor needs as metadata."""
    from .tasks.registry import task_of_class

    task = task.cpu().eval()
    graph = task.export_graph()
    hparams = {k: v for k, v in task.hparams.items() if isinstance(v, (str, int, float, bool, type(None)))}
    metadata = dict(task=task_of_class(type(task)).name, **task.export_metadata(), hparams=hparams)
    return _export(graph, Path(path), opset, metadata)


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
