"""Text-line images to tensors: fixed height, aspect ratio kept, padded to a width; and batching."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np
import torch
from PIL import Image


def resize_line(image: Image.Image, height: int = 32, max_width: int = 320, channels: int = 3) -> torch.Tensor:
    """Convert to ``channels`` (1: grayscale, 3: RGB), scale to ``height`` keeping the aspect ratio, and squeeze
    lines wider than ``max_width`` to that width (PaddleOCR's rule). Returns ``(channels, height, width)`` in
    [-1, 1]."""
    image = image.convert("L" if channels == 1 else "RGB")
    width = max(1, min(max_width, round(image.width * height / max(image.height, 1))))
    image = image.resize((width, height), Image.BILINEAR)
    array = np.asarray(image, dtype=np.float32)
    array = array[None] if channels == 1 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array)) / 127.5 - 1.0


@dataclass
class LineCollator:
    """Batch ``{"image", "label", "key"}`` samples; a ``SkippedSample`` is left out and reported in the batch.

    ``pad_to``: a fixed width (every batch has that width) or None (the widest line of the batch, rounded up
    to ``multiple``). Padding is 0, the middle grey of the normalized range, on the right.
    """
    pad_to: Optional[int] = None
    multiple: int = 8

    def __call__(self, samples: List) -> Dict:
        from .dataset import SkippedSample

        kept = [s for s in samples if not isinstance(s, SkippedSample)]
        skipped = [s for s in samples if isinstance(s, SkippedSample)]
        if not kept:
            return dict(images=torch.zeros(0), widths=torch.zeros(0, dtype=torch.long), labels=[], keys=[],
                        skipped=skipped)
        widths = [s["image"].shape[-1] for s in kept]
        width = self.pad_to or -(-max(widths) // self.multiple) * self.multiple
        channels, height = kept[0]["image"].shape[:2]
        images = torch.zeros(len(kept), channels, height, width)
        for i, sample in enumerate(kept):
            images[i, :, :, :widths[i]] = sample["image"]
        return dict(images=images, widths=torch.tensor(widths), labels=[s["label"] for s in kept],
                    keys=[s["key"] for s in kept], skipped=skipped)
