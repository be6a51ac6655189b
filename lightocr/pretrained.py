"""The trained models that ship inside the package (``lightocr/weights/``), read with no download.

Each is written by ``scripts/train_default_models.py`` as ``<name>.onnx`` (for reading, with its reader's
metadata) and ``<name>.safetensors`` (its weights, for ``init_from`` and the torch engine). A name of
``MODELS`` stands wherever a model file does: ``lightocr read --det``/``--rec``, ``PageReader``, ``init_from``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

from .errors import ModelFileError

WEIGHTS_DIR = Path(__file__).parent / "weights"
# name: what it is
MODELS: Dict[str, str] = {
    "lightocr-det": "text detector (DB, MobileNetV3 backbone) for pages, forms, receipts and labels",
    "lightocr-rec-document": "text recognizer (CRNN, MobileNetV3) of printed lines in the printable ASCII charset",
}
DEFAULT_DETECTOR, DEFAULT_RECOGNIZER = "lightocr-det", "lightocr-rec-document"


def resolve_model(model: str, engine: Optional[str] = None) -> str:
    """A model file: ``model`` itself, or for a shipped model's name its ONNX file (its safetensors weights for
    ``engine="torch"``). A shipped model whose file is not installed is a ``ModelFileError`` naming the path."""
    if model not in MODELS:
        return model
    path = WEIGHTS_DIR / f"{model}.{'safetensors' if engine == 'torch' else 'onnx'}"
    if not path.is_file():
        raise ModelFileError(f"the shipped model {model} is not installed with this lightocr (no {path}): train "
                             f"and write it with scripts/train_default_models.py, or name model files instead")
    return str(path)
