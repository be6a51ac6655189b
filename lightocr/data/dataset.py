"""A text-recognition dataset over any ``SampleSource``: label checks, image conversion, augmentation and
batching, under the skip-or-raise policy of ``lightocr.data.samples`` (an empty label and a label with symbols
outside the charset are this dataset's kinds). Every step from the file to the array runs inside that policy,
in the loader worker.

Items are addressed by an index, or by ``(epoch, index)`` as the training sampler yields them: the epoch
reaches the sources (generated lines change every epoch) and the augmentation seed, so every epoch sees new
distortions, reproducibly.
"""
import zlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from PIL import Image

from ..ocr.charset import Charset
from .geometry import LineGeometry
from .samples import DEFAULT_MAX_PIXELS, SkippedSample, SourceDataset, bad_sample
from .sources import SampleSource
from .transforms import augment_line


class TextLineDataset(SourceDataset):
    """Samples ``{"image", "label", "key"}`` of a source, or ``SkippedSample``.

    Args:
        geometry: how images become tensors (``LineGeometry``).
        augment: an albumentations pipeline applied before the geometry (training only).
    """

    def __init__(self, source: SampleSource, charset: Charset, geometry: Optional[LineGeometry] = None,
                 on_error: str = "skip", require_label: bool = True, augment: Optional[Callable] = None,
                 seed: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS):
        super().__init__(source, on_error, require_label, seed, max_pixels)
        self.charset = charset
        self.geometry = geometry or LineGeometry()
        self.augment = augment

    def __getitem__(self, item: Union[int, Tuple[int, int]]) -> Union[Dict, SkippedSample]:
        loaded = self.load(item)
        if isinstance(loaded, SkippedSample):
            return loaded
        image, label, key, epoch, index = loaded
        label = self.charset.normalize(label)
        if not label and self.require_label:
            return bad_sample(self.on_error, key, "empty_label", "empty label")
        unknown = self.charset.unknown(label)
        if unknown:
            return bad_sample(self.on_error, key, "unknown_symbols",
                              f"label {label!r} has symbols outside the charset: {''.join(unknown)!r}")
        def make() -> Dict:
            line = image if self.augment is None else augment_line(self.augment, image, self.sample_seed(epoch, index))
            return dict(image=self.geometry.to_array(line), label=label, key=key)
        return self.transformed(key, make)


def resize_line(image: Image.Image, height: int = 32, max_width: int = 320, channels: int = 3) -> torch.Tensor:
    """One line as the default geometry (``LineGeometry``) makes it, at another height, width or channels."""
    return torch.from_numpy(LineGeometry(height=height, max_width=max_width, channels=channels).to_array(image))


@dataclass
class LineCollator:
    """Batch samples as ``geometry`` pads them; a ``SkippedSample`` is left out and reported in the batch.

    The batch: ``images`` ``(n, channels, height, width)``, ``widths`` (each line's width before padding),
    ``labels``, ``keys`` and ``skipped``.
    """
    geometry: LineGeometry = field(default_factory=LineGeometry)

    def __call__(self, samples: List) -> Dict:
        kept = [s for s in samples if not isinstance(s, SkippedSample)]
        skipped = [s for s in samples if isinstance(s, SkippedSample)]
        if not kept:
            return dict(images=torch.zeros(0, self.geometry.channels, self.geometry.height, 0),
                        widths=torch.zeros(0, dtype=torch.long), labels=[], keys=[], skipped=skipped)
        images, widths = self.geometry.pad([s["image"] for s in kept])
        return dict(images=torch.from_numpy(images), widths=torch.from_numpy(widths),
                    labels=[s["label"] for s in kept], keys=[s["key"] for s in kept], skipped=skipped)


@dataclass
class WidthPoolCollator:
    """``pool`` batches' worth of samples sorted by width and cut into ``pool`` batches (each made by
    ``collate``), handed out in an order drawn from their keys: lines of like width share a batch, so that less of
    a batch padded to its widest line is padding. Deterministic, so that a resumed pool is cut the same way."""
    collate: LineCollator
    pool: int

    @staticmethod
    def width(sample: Union[Dict, SkippedSample]) -> int:
        return 0 if isinstance(sample, SkippedSample) else sample["image"].shape[-1]

    def __call__(self, samples: List) -> List[Dict]:
        by_width = sorted(samples, key=self.width)
        bounds = [len(samples) * part // self.pool for part in range(self.pool + 1)]
        batches = [self.collate(by_width[start:end]) for start, end in zip(bounds, bounds[1:])]
        keys = "\n".join(s.key if isinstance(s, SkippedSample) else s["key"] for s in samples)
        order = np.random.default_rng(zlib.crc32(keys.encode())).permutation(self.pool)
        return [batches[i] for i in order]
