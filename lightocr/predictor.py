"""Predictors: read images with a trained model, without Lightning or any training code.

A task's predictor (``TaskSpec.predictor``) shapes images as the model was trained (``prepare`` one image,
``collate`` a batch into the network's named inputs), runs an engine, and turns its outputs into
``Prediction``s (``decode``). An engine is anything called with the network's inputs by name that returns its
outputs as numpy arrays: ``OnnxEngine`` (ONNX Runtime, for an exported file; needs numpy, Pillow and onnxruntime
alone) or ``lightocr.inference.TorchEngine`` (the task's own export graph in PyTorch). Both run the same graph
with the same pre- and postprocessing, so they print the same rows.

    import lightocr
    reader = lightocr.Reader("crnn.onnx")            # or a checkpoint: runs.../last.ckpt (open_predictor)
    reader(["line.png", numpy_image, pil_image])     # [{"key", "text", "confidence", "error"}, ...]
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from .errors import ConfigError, MissingPackageError, ModelFileError

ENGINES = ("torch", "onnxruntime")
KEY_PREFIX = "lightocr."
ONNX_EXTRA = 'pip install "lightocr[onnx]"'
ImageInput = Union[str, os.PathLike, np.ndarray, Image.Image]


@dataclass(frozen=True)
class Prediction:
    """What a model read from one image: a text (or a class name) and a confidence in [0, 1]."""
    text: str
    confidence: float


def as_array(value: Any) -> np.ndarray:
    """A numpy array of a numpy array or a torch tensor (detached, on the CPU)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
        value = value.float() if value.is_floating_point() else value
        return value.numpy()
    return np.asarray(value)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)


TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def tsv_line(row: Dict[str, Any]) -> str:
    r"""A prediction row as one ``path<TAB>text<TAB>confidence`` line. A backslash, tab, newline or carriage
    return inside the path or text is written as ``\\``, ``\t``, ``\n``, ``\r``, so that a file name can
    never add a column or a row."""
    key, text = str(row["key"]).translate(TSV_ESCAPES), str(row["text"]).translate(TSV_ESCAPES)
    return f"{key}\t{text}\t{row['confidence']:.4f}"


def picture_name(key: str) -> str:
    """The file name of a picture drawn of an image: its name's stem in safe characters, ``.png``."""
    return re.sub(r"[^\w.-]", "_", Path(key).stem) + ".png"


def require(module: str, purpose: str):
    """Import an optional dependency, or raise ``MissingPackageError`` naming the extra that installs it."""
    try:
        return __import__(module)
    except ImportError:
        raise MissingPackageError(f"{purpose} needs the {module} package: {ONNX_EXTRA}") from None


# engines --------------------------------------------------------------------------------------------
class OnnxEngine:
    """An exported model run by ONNX Runtime on the CPU; ``metadata`` holds its ``lightocr.*`` entries."""

    def __init__(self, model: Union[str, Path, bytes], threads: Optional[int] = None):
        self.name = "the exported model" if isinstance(model, bytes) else str(model)
        if not isinstance(model, bytes) and not Path(model).is_file():
            raise ModelFileError(f"ONNX file not found: {model}")
        self.session = onnx_session(model, self.name, threads)
        raw = self.session.get_modelmeta().custom_metadata_map
        self.metadata = {k[len(KEY_PREFIX):]: json.loads(v) for k, v in raw.items() if k.startswith(KEY_PREFIX)}
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, **inputs: Any) -> List[np.ndarray]:
        return self.session.run(None, {name: np.ascontiguousarray(as_array(inputs[name]))
                                       for name in self.input_names})


def onnx_session(model: Union[str, Path, bytes], name: str, threads: Optional[int] = None):
    """An ONNX Runtime session of ``model`` (called ``name`` in errors), with clear errors for a missing package
    and for an opset it cannot run."""
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


# predictors -----------------------------------------------------------------------------------------
class Predictor:
    """Base of the task predictors: ``prepare`` one decoded image, ``collate`` prepared images into the
    network's inputs, ``decode`` its outputs. ``read`` and calling the predictor do the rest: decoding image
    files, arrays and PIL images (EXIF orientation, 8 bits, the pixel limit), batching, and the rows.

    A predictor is built from an engine and the metadata its task exports (``from_metadata``); the names in
    ``metadata_keys`` must be there."""

    metadata_keys: Tuple[str, ...] = ()

    def __init__(self, engine, metadata: Dict[str, Any]):
        self.engine, self.metadata = engine, dict(metadata)

    def with_options(self, **options: Any) -> "Predictor":
        """A predictor of the same class on the same engine and metadata, built with ``options`` (the names
        ``add_options`` returns; the others at their defaults)."""
        return type(self)(self.engine, self.metadata, **options)

    @classmethod
    def add_options(cls, parser) -> List[str]:
        """Add the options of this task's reading command (``lightocr <command>``) to an argparse parser; returns
        their names, which are passed to ``__init__``."""
        return []

    def prepare(self, image: Image.Image) -> Any:
        raise NotImplementedError

    def collate(self, prepared: List[Any]) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def decode(self, outputs: List[np.ndarray], inputs: Dict[str, Any]) -> List[Any]:
        """One prediction per image of the batch, from the network's outputs (and the collated inputs)."""
        raise NotImplementedError

    def rows(self, key: str, prediction: Any) -> List[Dict[str, Any]]:
        """What an image's prediction prints (``lightocr <command>``) and ``lightning predict`` writes: rows of
        ``key``, ``text``, ``confidence`` (one per image by default)."""
        return [dict(key=key, text=prediction.text, confidence=prediction.confidence)]

    def finish(self, key: str, image: Image.Image, prediction: Any) -> None:
        """Called with each image read and its prediction (a predictor that writes pictures does it here)."""

    def samples(self, source, on_error: str, max_pixels: int):
        """The images of ``source`` under the skip policy (``lightocr.data.samples.SourceDataset``)."""
        from .data.samples import SourceDataset
        return SourceDataset(source, on_error=on_error, require_label=False, max_pixels=max_pixels)

    def predict_batch(self, inputs: Dict[str, Any]) -> List[Any]:
        """The predictions of a collated batch (numpy arrays, or the tensors of a training data loader)."""
        return self.decode(self.engine(**inputs), inputs)

    def results(self, images: Sequence[ImageInput], batch_size: int = 32, on_error: str = "skip",
                max_pixels: Optional[int] = None) -> Iterator[List[Tuple[str, Any]]]:
        """Each batch's ``(key, prediction)`` pairs in the order of the images, with a ``SkippedSample`` in place
        of the prediction for an image that could not be read (``on_error="raise"``: ``BadSampleError`` at the
        first). A folder given as a path is read whole, in sorted order."""
        for triples in self.results_with_images(images, batch_size, on_error, max_pixels):
            for key, image, prediction in triples:
                if image is not None:
                    self.finish(key, image, prediction)
            yield [(key, prediction) for key, _, prediction in triples]

    def results_with_images(self, images: Sequence[ImageInput], batch_size: int = 32, on_error: str = "skip",
                            max_pixels: Optional[int] = None
                            ) -> Iterator[List[Tuple[str, Optional[Image.Image], Any]]]:
        """As ``results``, with each decoded image (None beside a ``SkippedSample``): ``(key, image,
        prediction)``."""
        from .data.samples import DEFAULT_MAX_PIXELS, SkippedSample
        from .data.sources import ImageFilesSource

        source = ImageFilesSource(list(images))
        if len(source) == 0:
            raise ConfigError(f"no images found in {[str(i) for i in images]}")
        samples = self.samples(source, on_error, max_pixels or DEFAULT_MAX_PIXELS)
        for start in range(0, len(source), batch_size):
            loaded = [samples.load(index) for index in range(start, min(start + batch_size, len(source)))]
            prepared = [item if isinstance(item, SkippedSample) else
                        samples.transformed(item[2], lambda image=item[0]: dict(input=self.prepare(image)))
                        for item in loaded]
            usable = [item["input"] for item in prepared if not isinstance(item, SkippedSample)]
            predictions = iter(self.predict_batch(self.collate(usable)) if usable else [])
            yield [(source.key(start + i), None, item) if isinstance(item, SkippedSample) else
                   (source.key(start + i), loaded[i][0], next(predictions)) for i, item in enumerate(prepared)]

    def __call__(self, images: Union[ImageInput, Sequence[ImageInput]], batch_size: int = 32) -> List[Dict[str, Any]]:
        """The rows of the images (``rows``: one per image, or one per text box of a page), in order (a folder
        gives its images sorted): ``key`` (the path, or ``image[i]`` for an array or a PIL image), ``text``,
        ``confidence``, and ``error``: None, or why the image was not read (then its one row's ``text`` is
        None)."""
        from .data.samples import SkippedSample

        rows = []
        for pairs in self.results(images if isinstance(images, (list, tuple)) else [images], batch_size):
            for key, value in pairs:
                if isinstance(value, SkippedSample):
                    rows.append(dict(key=key, text=None, confidence=0.0, error=value.reason))
                else:
                    rows += [dict(row, error=None) for row in self.rows(key, value)]
        return rows

    @classmethod
    def from_metadata(cls, engine, metadata: Dict[str, Any], name: str, **options: Any) -> "Predictor":
        missing = [KEY_PREFIX + key for key in ("task",) + cls.metadata_keys if key not in metadata]
        if missing:
            raise ModelFileError(f"{name} lacks the lightocr metadata {', '.join(missing)} that a "
                                 f"{metadata.get('task', 'lightocr')} reader needs")
        return cls(engine, metadata, **options)


def open_predictor(model: Union[str, Path], task: Optional[str] = None, engine: Optional[str] = None,
                   optimize: bool = True, compile: bool = False, threads: Optional[int] = None,
                   **options: Any) -> Predictor:
    """The predictor of a checkpoint, an exported ``.onnx`` file or a shipped model's name (``lightocr.pretrained``),
    run by ``engine`` (default: PyTorch for a checkpoint, ONNX Runtime for an exported file and a shipped model; a
    checkpoint given to ONNX Runtime is exported in memory).
    ``task``: the task name it must be (``TaskSpec.name``); ``options``: the predictor's own (``beam_width``).
    PyTorch reads with BatchNorm folded and channels_last unless ``optimize=False``."""
    from .pretrained import resolve_model

    model = resolve_model(str(model), engine)
    exported = Path(model).suffix.lower() == ".onnx"
    engine = engine or ("onnxruntime" if exported else "torch")
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {ENGINES}, got {engine!r}")
    if engine == "onnxruntime":
        require("onnxruntime", "--engine onnxruntime")
    if exported and engine == "torch":
        raise ConfigError(f"{model} is an exported ONNX file: read it with --engine onnxruntime (or give the "
                          f"checkpoint it came from to --engine torch)")
    if exported:
        return onnx_predictor(OnnxEngine(model, threads), task, options)
    from .inference import export_in_memory, optimize_for_inference
    from .tasks.registry import load_task

    trained = load_task(model, task)
    if engine == "onnxruntime":
        return onnx_predictor(OnnxEngine(export_in_memory(trained), threads), task, options)
    if optimize:
        optimize_for_inference(trained, compile=compile)
    return trained.predictor(**options)


def onnx_predictor(engine: OnnxEngine, task: Optional[str], options: Dict[str, Any]) -> Predictor:
    """The predictor of an exported model, chosen by its ``lightocr.task`` metadata."""
    from .tasks.registry import find_task, import_object

    found = engine.metadata.get("task")
    if found is None:
        raise ModelFileError(f"{engine.name} has no lightocr metadata (no {KEY_PREFIX}task entry): export it with "
                             f"`lightocr export` or `lightocr.export_onnx`")
    spec = find_task(name=found)
    if spec is None:
        raise ModelFileError(f"{engine.name} is a {found} model, which no installed lightocr task reads")
    if task is not None and spec.name != task:
        command = f" (read it with `lightocr {spec.command}`)" if spec.command else ""
        raise ModelFileError(f"{engine.name} is a {spec.name} model, not a {task} one{command}")
    return import_object(spec.predictor).from_metadata(engine, engine.metadata, engine.name, **options)


# ``lightocr.Reader(model)(images)``: read images with a trained model in a few lines, no training code
Reader = open_predictor
