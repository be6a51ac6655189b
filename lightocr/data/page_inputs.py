"""How a page becomes a detector's input, in numpy, OpenCV and Pillow alone (the detection reader needs nothing
heavier): scaled so that its longer side is ``size`` and each side a multiple of 32 (the deepest stride),
normalized by ``mean``/``std``; a batch is padded on the right and bottom with 0 to its largest page."""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

STRIDE = 32


@dataclass(frozen=True)
class PageGeometry:
    """Saved in every detection checkpoint and exported file, so that reading shapes pages as training did."""
    size: int = 640
    channels: int = 3
    mean: Tuple[float, ...] = (0.485, 0.456, 0.406)
    std: Tuple[float, ...] = (0.229, 0.224, 0.225)

    def __post_init__(self):
        if self.channels not in (1, 3) or self.size < STRIDE:
            raise ValueError(f"pages need channels 1 or 3 and a size of at least {STRIDE}, got {self.channels} "
                             f"and {self.size}")

    @classmethod
    def from_dict(cls, values: Optional[Mapping[str, Any]]) -> "PageGeometry":
        values = dict(values or {})
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def as_dict(self) -> Dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def scaled_size(self, width: int, height: int) -> Tuple[int, int]:
        """``(width, height)`` of the input: the longer side ``size``, each a multiple of 32."""
        scale = self.size / max(width, height)
        return (max(STRIDE, int(round(width * scale / STRIDE)) * STRIDE),
                max(STRIDE, int(round(height * scale / STRIDE)) * STRIDE))

    def to_array(self, image: Image.Image) -> Tuple[np.ndarray, Tuple[float, float]]:
        """``(channels, height, width)`` float32 input of a page, and the ``(x, y)`` scale from the page to it."""
        pixels = np.asarray(image.convert("L" if self.channels == 1 else "RGB"), dtype=np.float32)
        width, height = self.scaled_size(image.width, image.height)
        pixels = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA if width < image.width
                            else cv2.INTER_LINEAR)
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels
        mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
        if self.channels == 1:
            mean, std = mean.mean(keepdims=True), std.mean(keepdims=True)
        array = ((pixels / 255.0 - mean) / std).transpose(2, 0, 1)
        return np.ascontiguousarray(array, dtype=np.float32), (width / image.width, height / image.height)

    @staticmethod
    def pad(arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Pages of one batch padded with 0 on the right and bottom to the largest."""
        height, width = max(a.shape[1] for a in arrays), max(a.shape[2] for a in arrays)
        batch = np.zeros((len(arrays), arrays[0].shape[0], height, width), np.float32)
        for i, array in enumerate(arrays):
            batch[i, :, :array.shape[1], :array.shape[2]] = array
        return batch
