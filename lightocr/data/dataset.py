"""A text-recognition dataset over any ``TextSource``: label checks, image conversion, augmentation, the skip
policy, and batching.

A sample that cannot be used (an image that is missing, does not decode, or is over the pixel limit; an
empty label, a label with symbols outside the charset; an augmentation or conversion that fails on it) becomes
a ``SkippedSample`` naming its key, the kind and the reason, which the collator leaves out of the batch and the
task counts and reports. With ``on_error="raise"`` the same problem raises at once, naming the sample. Every
step from the file to the tensor runs inside that policy, in the loader worker.

Items are addressed by an index, or by ``(epoch, index)`` as the training sampler yields them: the epoch
reaches the sources (generated lines change every epoch) and the augmentation seed, so every epoch sees new
distortions, reproducibly.
"""
import zlib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np
from PIL import Image
import torch
from torch.utils.data import DataLoader, Dataset

from ..ocr.charset import Charset
from .sources import ImageTooLargeError, TextSource, decode_image
from .transforms import LineGeometry, augment_line

ON_ERROR = ("skip", "raise")
# every kind of skipped sample, in a fixed order (counters are reduced across DDP ranks as one vector)
SKIP_KINDS = ("image", "empty_label", "unknown_symbols", "too_long", "empty_batch", "unknown_class", "too_large",
              "transform")
# images over this many pixels are skipped before they are decoded (a setting of the data modules); a 600 dpi A4
# page scan has 35 million
DEFAULT_MAX_PIXELS = 40_000_000


class BadSampleError(ValueError):
    """A sample that cannot be used, raised under ``on_error="raise"``."""


class SkippedSample(NamedTuple):
    """A sample left out of its batch. A named tuple of strings, so that Lightning moves batches holding it."""
    key: str
    kind: str  # one of SKIP_KINDS
    reason: str


def check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")


def bad_sample(on_error: str, key: str, kind: str, reason: str) -> SkippedSample:
    """The skip-or-raise policy in one place."""
    if on_error == "raise":
        raise BadSampleError(f"{key}: {reason} (set the data module's on_error to 'skip' to count and skip such "
                             f"samples)")
    return SkippedSample(key, kind, reason)


class SourceDataset(Dataset):
    """The samples of a non-empty source by ``index`` or ``(epoch, index)``, under the skip-or-raise policy for
    bad samples (``on_error``); ``require_label=False`` for prediction (unlabelled images). The randomness of a
    sample's distortion is seeded by ``(seed, epoch, index)`` (``sample_seed``). Images over ``max_pixels``
    (``size_problem``) are skipped as ``too_large`` from their header, before they are decoded."""

    def __init__(self, source: TextSource, on_error: str = "skip", require_label: bool = True, seed: int = 0,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        check_on_error(on_error)
        if len(source) == 0:
            raise ValueError(f"{source.describe()} is empty")
        self.source, self.on_error, self.require_label, self.seed = source, on_error, require_label, seed
        self.max_pixels = max_pixels

    def size_problem(self, width: int, height: int) -> Optional[str]:
        """Why an image of this size is too large to use, or None."""
        if width * height > self.max_pixels:
            return f"{width}x{height} image ({width * height:,} pixels) is over max_pixels={self.max_pixels:,}"
        return None

    def load(self, item: Union[int, Tuple[int, int]]) -> Union[Tuple[Image.Image, str, str, int, int], SkippedSample]:
        """``(image, label, key, epoch, index)`` of an item (an index, or ``(epoch, index)`` as the training sampler
        yields them), the image decoded, turned by its EXIF orientation and in 8 bits; or the ``SkippedSample`` of
        an image that cannot be read (``image``) or is too large (``too_large``), raised under ``on_error="raise"``."""
        epoch, index = item if isinstance(item, tuple) else (0, item)
        try:
            image, label, key = self.source.load(index, epoch)
            problem = self.size_problem(*image.size)
            if problem:
                raise ImageTooLargeError(problem)
            image = decode_image(image, key)
        except Exception as error:  # anything a source or a decoder raises for a bad file is this sample's
            key = self.source.key(index, epoch)
            reason = str(error).strip("'\"").removeprefix(f"{key}: ")  # a KeyError's message comes quoted
            if not isinstance(error, (OSError, KeyError, ValueError)):
                reason = f"{type(error).__name__}: {reason}"
            return bad_sample(self.on_error, key, "too_large" if isinstance(error, ImageTooLargeError) else "image",
                              reason)
        return image, label, key, epoch, index

    def transformed(self, key: str, make: Callable[[], Dict]) -> Union[Dict, SkippedSample]:
        """``make()``: a sample's augmentation and conversion to a tensor; a failure is the sample's
        (``transform``), not the loader's."""
        try:
            return make()
        except Exception as error:
            return bad_sample(self.on_error, key, "transform",
                              f"augmentation or conversion failed ({type(error).__name__}: {error})")

    def __len__(self) -> int:
        return len(self.source)

    def sample_seed(self, epoch: int, index: int) -> int:
        return int(np.random.default_rng([self.seed, epoch, index]).integers(2 ** 31))


class TextLineDataset(SourceDataset):
    """Samples ``{"image", "label", "key"}`` of a source, or ``SkippedSample``.

    Args:
        geometry: how images become tensors (``LineGeometry``).
        augment: an albumentations pipeline applied before the geometry (training only).
    """

    def __init__(self, source: TextSource, charset: Charset, geometry: Optional[LineGeometry] = None,
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
            return dict(image=self.geometry.to_tensor(line), label=label, key=key)
        return self.transformed(key, make)


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
        widths = [s["image"].shape[-1] for s in kept]
        images = torch.zeros(len(kept), self.geometry.channels, self.geometry.height,
                             self.geometry.batch_width(max(widths)))
        for i, sample in enumerate(kept):
            images[i, :, :, :widths[i]] = sample["image"]
        return dict(images=images, widths=torch.tensor(widths), labels=[s["label"] for s in kept],
                    keys=[s["key"] for s in kept], skipped=skipped)


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


def line_loader(source: TextSource, charset: Charset, geometry: LineGeometry, batch_size: int = 32,
                require_label: bool = False, augment: Optional[Callable] = None,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> DataLoader:
    """Batches of a source shaped by ``geometry``, in order, in this process: what a reader of lines runs
    (``lightocr read`` with either engine, the evaluation scripts)."""
    dataset = TextLineDataset(source, charset, geometry, require_label=require_label, augment=augment,
                              max_pixels=max_pixels)
    return DataLoader(dataset, batch_size=batch_size, collate_fn=LineCollator(geometry))
