"""Reading with PyTorch: a task's export graph as an engine of its predictor (``TorchEngine``), made fast for
inference (BatchNorm folded into the convolutions, channels_last, ``torch.compile`` on request), and a task
exported in memory for ONNX Runtime. The engine-independent part of reading is ``lightocr.predictor``.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, List, Sequence

import numpy as np
import torch
from torch import nn

from .export import export_task
from .predictor import as_array


class TorchEngine:
    """A network called with its inputs by name (numpy arrays or tensors), in eval mode without gradients, on
    the device of its weights; its outputs as numpy arrays. Image inputs go in channels_last when
    ``channels_last`` is set (the owner's attribute, read at each call)."""

    def __init__(self, network: nn.Module, input_names: Sequence[str], owner: Any = None):
        self.network, self.input_names, self.owner = network, list(input_names), owner

    def __call__(self, **inputs: Any) -> List[np.ndarray]:
        parameter = next(self.network.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        channels_last = bool(getattr(self.owner, "channels_last", False))
        tensors = []
        for name in self.input_names:
            value = inputs[name]
            tensor = (value if torch.is_tensor(value) else torch.from_numpy(np.asarray(value))).to(device)
            if channels_last and tensor.ndim == 4:
                tensor = tensor.contiguous(memory_format=torch.channels_last)
            tensors.append(tensor)
        with torch.inference_mode():
            outputs = self.network.eval()(*tensors)
        return [as_array(o) for o in (outputs if isinstance(outputs, (tuple, list)) else (outputs,))]


def fold_batchnorm(model: nn.Module, *example: torch.Tensor) -> int:
    """Fold every BatchNorm2d that directly follows a Conv2d into that convolution (inference only), in place;
    returns how many were folded. The pairs are found by running ``example`` once and matching a BatchNorm's
    input with a convolution's output tensor, so it works for any network, not only for named layouts. A
    timm ``BatchNormAct2d`` keeps its activation (and dropout)."""
    outputs, pairs, hooks = {}, [], []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            # the output is kept alive with its convolution, so that its id cannot be reused by another tensor
            hooks.append(module.register_forward_hook(lambda m, i, o: outputs.__setitem__(id(o), (m, o))))
        elif isinstance(module, nn.BatchNorm2d):
            hooks.append(module.register_forward_pre_hook(lambda m, i: pairs.append((outputs.get(id(i[0])), m))))
    try:
        with torch.no_grad():
            model.eval()(*example)
    finally:
        for hook in hooks:
            hook.remove()
    folded = {}
    for source, norm in pairs:
        if source is None or id(norm) in folded or norm.running_var is None:
            continue
        conv = source[0]
        with torch.no_grad():
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps) if norm.affine else \
                1 / torch.sqrt(norm.running_var + norm.eps)
            shift = (norm.bias if norm.affine else 0) - norm.running_mean * scale
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
            conv.bias = nn.Parameter(bias * scale + shift)
        folded[id(norm)] = norm
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if id(child) in folded:
                rest = [getattr(child, a) for a in ("drop", "act") if isinstance(getattr(child, a, None), nn.Module)]
                setattr(parent, name, nn.Sequential(*rest) if rest else nn.Identity())
    return len(folded)


def optimize_for_inference(task, fold: bool = True, channels_last: bool = True, compile: bool = False):
    """A task made ready to read on the CPU or a GPU: BatchNorm folded (``fold_batchnorm``, run on the task's
    export example), weights and inputs in channels_last, and its network wrapped by ``torch.compile`` when asked.
    Returns the task, in eval mode."""
    task = task.eval()
    if fold:
        graph = task.export_graph()
        fold_batchnorm(graph.module, *(e.to(task.device) for e in graph.example))
    task.channels_last = channels_last
    if channels_last:
        task.to(memory_format=torch.channels_last)
    task.compile_network = compile  # the predictor compiles its graph (``BaseTask.predictor``)
    return task


def export_in_memory(task) -> bytes:
    """A task exported to ONNX bytes (``--engine onnxruntime`` with a checkpoint)."""
    with tempfile.TemporaryDirectory() as folder:
        return export_task(task, Path(folder) / "model.onnx").read_bytes()
