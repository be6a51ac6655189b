"""Images as a classifier's inputs, in numpy, Pillow and albumentations (no torch): the conversion, the
evaluation transforms and the pixel limit that the training data and the classification reader share."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import numpy as np
from PIL import Image

from .samples import DEFAULT_MAX_PIXELS, SourceDataset
from .sources import SampleSource


def default_eval_steps(size: int, crop_pct: float) -> List[Dict[str, Any]]:
    """Resize the short side to ``size / crop_pct``, then crop the centre."""
    return [dict(transform="SmallestMaxSize", max_size=int(round(size / crop_pct))),
            dict(transform="CenterCrop", height=size, width=size)]


class ImageSamples(SourceDataset):
    """The images of a source under the skip policy, with the pixel limit of a classifier's input.
    ``input_config``: ``size``, ``channels``, ``mean``, ``std``, ``crop_pct``."""

    def __init__(self, source: SampleSource, input_config: Dict[str, Any], on_error: str = "skip",
                 require_label: bool = True, seed: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS):
        super().__init__(source, on_error, require_label, seed, max_pixels)
        self.input_config = input_config

    def size_problem(self, width: int, height: int) -> Optional[str]:
        """Also too large: an image whose shorter side, scaled up to the evaluation resize (``size / crop_pct``),
        would make it larger than ``max_pixels`` (a 20000x1 strip would take gigabytes)."""
        resize = self.input_config["size"] / self.input_config.get("crop_pct", 1.0)
        scale = max(1.0, resize / max(1, min(width, height)))
        scaled = width * height * scale * scale
        if scaled > self.max_pixels:
            return (f"{width}x{height} image: with its shorter side scaled to the input size it would have "
                    f"{scaled:,.0f} pixels, over max_pixels={self.max_pixels:,}")
        return super().size_problem(width, height)


def to_input(image: Image.Image, config: Dict[str, Any], pipeline: Callable) -> np.ndarray:
    """A PIL image as the network's input: converted to ``channels`` (grayscale and RGBA too), transformed,
    normalized by ``mean``/``std`` and laid out as ``(channels, size, size)``."""
    gray = config["channels"] == 1
    array = np.asarray(image.convert("L" if gray else "RGB"))
    array = pipeline(image=array)["image"].astype(np.float32) / 255.0
    array = array[..., None] if array.ndim == 2 else array
    mean, std = np.asarray(config["mean"], np.float32), np.asarray(config["std"], np.float32)
    if gray:
        mean, std = mean.mean(keepdims=True), std.mean(keepdims=True)
    return np.ascontiguousarray(((array - mean) / std).transpose(2, 0, 1))
