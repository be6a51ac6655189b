"""Inference engines for trained models: PyTorch (BatchNorm folded into the convolutions, channels_last,
``torch.compile`` on request) and ONNX Runtime (an exported file, or a checkpoint exported in memory).

A reader is anything with the two methods ``lightocr.tasks.predict_source`` calls: ``source_loader(source,
batch_size)`` (the images shaped as the model was trained) and ``predict_step(batch)`` (rows of ``key``,
``text``, ``confidence``). A task is the PyTorch reader; ``OnnxTextReader`` and ``OnnxImageClassifier`` read an
exported file with nothing but its metadata.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np
import torch
from torch import nn

from .data.classification import image_loader
from .data.dataset import line_loader
from .data.transforms import LineGeometry
from .errors import ConfigError, ModelFileError
from .export import KEY_PREFIX, REQUIRED_METADATA, export_task, require
from .ocr.charset import Charset
from .ocr.ctc import CTCDecoder
from .tasks.base import prediction_rows
from .tasks.classification import class_predictions

ENGINES = ("torch", "onnxruntime")


# PyTorch --------------------------------------------------------------------------------------------
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
    """A task made ready to read on the CPU or a GPU: BatchNorm folded (``fold_batchnorm``), weights and inputs
    in channels_last, and its network wrapped by ``torch.compile`` when asked. Returns the task, in eval mode."""
    task = task.eval()
    if fold:
        if hasattr(task, "geometry"):  # recognition: a line at the model's height
            g = task.geometry
            example = (torch.zeros(1, g.channels, g.height, max(task.model.encoder.min_width, 4 * g.height)),)
        else:
            size = task.hparams.input_settings["size"]
            example = (torch.zeros(1, task.hparams.in_chans, size, size),)
        fold_batchnorm(task.model, *(e.to(task.device) for e in example))
    task.channels_last = channels_last
    if channels_last:
        task.to(memory_format=torch.channels_last)
    if compile:
        task.model = torch.compile(task.model, dynamic=True)  # line widths vary: one graph for all
    return task


# ONNX Runtime ----------------------------------------------------------------------------------------
def onnx_session(model: Union[str, Path, bytes], threads: Optional[int] = None):
    """An ONNX Runtime session, with clear errors for a missing package and for an opset it cannot run."""
    ort = require("onnxruntime", "--engine onnxruntime")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    # no busy-waiting of ONNX Runtime's threads after a run: they would take the cores from the decoding that
    # follows (measured: one line at a time, softmax and argmax went from 0.02 to 2 ms)
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as error:
        message = str(error)
        name = "the exported model" if isinstance(model, bytes) else str(model)
        if "opset" in message.lower() or "domain_version" in message.lower():
            raise ModelFileError(f"{name} needs ONNX opset {model_opset(model)}, which onnxruntime {ort.__version__} "
                                 f"cannot run ({message.splitlines()[0]}): upgrade onnxruntime or export again with "
                                 f"a lower --opset") from None
        raise ModelFileError(f"{name} is not an ONNX model that onnxruntime can load ({type(error).__name__}: "
                             f"{message.splitlines()[0] if message else ''}): export it again with `lightocr "
                             f"export`") from None


def model_opset(model: Union[str, Path, bytes]) -> Optional[int]:
    """The default-domain opset an ONNX file declares (None if it cannot be read)."""
    try:
        import onnx
        proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model),
                                                                                         load_external_data=False)
        return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    except Exception:
        return None


class OnnxReader:
    """An exported lightocr model and its metadata; see ``open_onnx``."""

    def __init__(self, session, metadata: Dict[str, Any], name: str):
        self.session, self.metadata, self.name = session, metadata, name

    def run(self, **inputs: np.ndarray) -> List[np.ndarray]:
        return self.session.run(None, inputs)


class OnnxTextReader(OnnxReader):
    """Reads text lines with an exported recognition model: shaped by its geometry, padded at least to the
    encoder's narrowest width, decoded by CTC (greedy, or beam search with ``beam_width``)."""

    def __init__(self, session, metadata: Dict[str, Any], name: str, beam_width: Optional[int] = None):
        super().__init__(session, metadata, name)
        self.charset = Charset(metadata["charset"], case_sensitive=metadata["case_sensitive"])
        self.geometry = LineGeometry.from_dict(metadata["geometry"])
        self.min_width = int(metadata["min_width"])
        self.decoder = CTCDecoder(self.charset, beam_width or int(metadata.get("beam_width", 1)))

    def source_loader(self, source, batch_size: int = 32, require_label: bool = False, augment=None):
        return line_loader(source, self.charset, self.geometry, batch_size, require_label, augment)

    def logits(self, images: torch.Tensor, widths: torch.Tensor):
        """``(logits, lengths)`` as torch tensors."""
        if images.shape[-1] < self.min_width:
            images = torch.nn.functional.pad(images, (0, self.min_width - images.shape[-1]))
        logits, lengths = self.run(images=images.float().contiguous().numpy(), widths=widths.long().numpy())
        return torch.from_numpy(logits), torch.from_numpy(lengths)

    def predict_step(self, batch: Dict[str, Any], batch_idx: int = 0) -> List[Dict[str, Any]]:
        if not batch["keys"]:
            return []
        logits, lengths = self.logits(batch["images"], batch["widths"])
        return prediction_rows(batch["keys"], self.decoder(logits, lengths))


class OnnxImageClassifier(OnnxReader):
    """Classifies images with an exported classification model, shaped by its saved input settings."""

    def __init__(self, session, metadata: Dict[str, Any], name: str, **_: Any):
        super().__init__(session, metadata, name)
        self.classes = list(metadata["classes"])
        self.input_settings = dict(metadata["input_settings"])

    def source_loader(self, source, batch_size: int = 32):
        return image_loader(source, self.classes, self.input_settings, batch_size)

    def predict_step(self, batch: Dict[str, Any], batch_idx: int = 0) -> List[Dict[str, Any]]:
        if not batch["keys"]:
            return []
        logits = self.run(images=batch["images"].float().contiguous().numpy())[0]
        return prediction_rows(batch["keys"], class_predictions(torch.from_numpy(logits), self.classes))


READERS = {"text-recognition": OnnxTextReader, "image-classification": OnnxImageClassifier}


def read_metadata(session, name: str) -> Dict[str, Any]:
    """The lightocr metadata of a session's model; an error names what is missing."""
    raw = session.get_modelmeta().custom_metadata_map
    values = {k[len(KEY_PREFIX):]: json.loads(v) for k, v in raw.items() if k.startswith(KEY_PREFIX)}
    if "task" not in values:
        raise ModelFileError(f"{name} has no lightocr metadata (no {KEY_PREFIX}task entry): export it with "
                             f"`lightocr export` or `lightocr.export_onnx`")
    required = REQUIRED_METADATA.get(values["task"])
    if required is None:
        raise ModelFileError(f"{name}: unknown {KEY_PREFIX}task {values['task']!r} "
                             f"(known: {sorted(REQUIRED_METADATA)})")
    missing = [KEY_PREFIX + k for k in required if k not in values]
    if missing:
        raise ModelFileError(f"{name} lacks the lightocr metadata {', '.join(missing)} that a "
                             f"{values['task']} reader needs")
    return values


def open_onnx(model: Union[str, Path, bytes], expected_task: Optional[str] = None, threads: Optional[int] = None,
              **reader_kwargs: Any) -> OnnxReader:
    """The reader of an exported file (or its bytes), chosen by its ``lightocr.task`` metadata."""
    name = "the exported model" if isinstance(model, bytes) else str(model)
    if not isinstance(model, bytes) and not Path(model).is_file():
        raise ModelFileError(f"ONNX file not found: {model}")
    session = onnx_session(model, threads)
    metadata = read_metadata(session, name)
    if metadata["task"] not in READERS:
        raise ModelFileError(f"{name} is a {metadata['task']} model, not one that `lightocr read` or `classify` runs")
    if expected_task is not None and metadata["task"] != expected_task:
        raise ModelFileError(f"{name} is a {metadata['task']} model, not a {expected_task} one")
    return READERS[metadata["task"]](session, metadata, name, **reader_kwargs)


def export_in_memory(task) -> bytes:
    """A task exported to ONNX bytes (``--engine onnxruntime`` with a checkpoint)."""
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        return export_task(task, Path(folder) / "model.onnx").read_bytes()


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {ENGINES}, got {engine!r}")
    if engine == "onnxruntime":
        require("onnxruntime", "--engine onnxruntime")
