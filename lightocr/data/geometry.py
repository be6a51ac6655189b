"""How a text-line image becomes a model input (height, width rule, channels, normalization, padding), in numpy
and Pillow alone: the training data and every reader (``lightocr.tasks.recognition.predictor``) share it, and
reading an exported model needs nothing heavier."""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

PAD_RULES = ("max", "batch")


@dataclass(frozen=True)
class LineGeometry:
    """How a text-line image becomes a model input; saved in every recognition checkpoint, so that reading
    with it later shapes the input exactly as training did.

    Lines are converted to ``channels`` (1: grayscale, 3: RGB), scaled to ``height`` keeping their aspect
    ratio, and squeezed to ``max_width`` when wider (PaddleOCR's rule); pixels become ``(x / 255 - mean) / std``.
    A batch is padded on the right with 0 (the normalized middle grey) to ``max_width`` (``pad_to="max"``) or
    to its widest line rounded up to ``multiple`` (``pad_to="batch"``).
    """
    height: int = 32
    max_width: int = 320
    channels: int = 3
    pad_to: str = "max"
    multiple: int = 8
    mean: float = 0.5
    std: float = 0.5

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        if self.pad_to not in PAD_RULES:
            raise ValueError(f"pad_to must be one of {PAD_RULES}, got {self.pad_to!r}")
        if self.height < 1 or self.max_width < 1 or self.multiple < 1:
            raise ValueError(f"height, max_width and multiple must be positive, got {self.height}, "
                             f"{self.max_width}, {self.multiple}")
        if self.std <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    @classmethod
    def from_dict(cls, values: Optional[Mapping[str, Any]]) -> "LineGeometry":
        return cls(**dict(values or {}))

    def as_dict(self) -> Dict[str, Any]:
        """Plain values (what a checkpoint read with ``weights_only=True`` may hold)."""
        return asdict(self)

    def to_array(self, image: Image.Image) -> np.ndarray:
        """``(channels, height, width)`` float32 array of one line; ``width <= max_width``."""
        image = image.convert("L" if self.channels == 1 else "RGB")
        width = max(1, min(self.max_width, round(image.width * self.height / max(image.height, 1))))
        image = image.resize((width, self.height), Image.BILINEAR)
        array = np.asarray(image, dtype=np.float32)
        array = array[None] if self.channels == 1 else array.transpose(2, 0, 1)
        return np.ascontiguousarray((array / np.float32(255.0) - np.float32(self.mean)) / np.float32(self.std))

    def batch_width(self, widest: int) -> int:
        return self.max_width if self.pad_to == "max" else -(-widest // self.multiple) * self.multiple

    def pad(self, lines: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        """``(images, widths)``: lines from ``to_array`` padded on the right with 0 into one batch, and each
        line's width before padding."""
        widths = np.array([line.shape[-1] for line in lines], dtype=np.int64)
        images = np.zeros((len(lines), self.channels, self.height, self.batch_width(int(widths.max(initial=0)))),
                          dtype=np.float32)
        for i, line in enumerate(lines):
            images[i, :, :, :line.shape[-1]] = line
        return images, widths
