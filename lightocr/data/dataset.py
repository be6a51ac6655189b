"""A text-recognition dataset over any ``TextSource``: label checks, image conversion, augmentation, the skip
policy, and batching.

A sample that cannot be used (an image that is missing or does not decode, an empty label, a label with
symbols outside the charset) becomes a ``SkippedSample`` naming its key and the reason, which the collator
leaves out of the batch and the task counts and reports. With ``on_error="raise"`` the same problem raises
at once, naming the sample.

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
from .sources import TextSource
from .transforms import LineGeometry, augment_line

ON_ERROR = ("skip", "raise")
# every kind of skipped sample, in a fixed order (counters are reduced across DDP ranks as one vector)
SKIP_KINDS = ("image", "empty_label", "unknown_symbols", "too_long", "empty_batch", "unknown_class")


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


def load_sample(source: TextSource, item: Union[int, Tuple[int, int]], on_error: str,
                ) -> Union[Tuple[Image.Image, str, str, int, int], SkippedSample]:
    """``(image, label, key, epoch, index)`` of an item (an index, or ``(epoch, index)`` as the training sampler
    yields them), or the ``SkippedSample`` of an image that cannot be read (raised under ``on_error="raise"``)."""
    epoch, index = item if isinstance(item, tuple) else (0, item)
    try:
        image, label, key = source.load(index, epoch)
    except (OSError, KeyError, ValueError) as error:
        key = source.key(index, epoch)
        reason = str(error).strip("'\"")  # a KeyError's message comes quoted
        return bad_sample(on_error, key, "image", reason.removeprefix(f"{key}: "))
    return image, label, key, epoch, index


class SourceDataset(Dataset):
    """The samples of a non-empty source by ``index`` or ``(epoch, index)``, under the skip-or-raise policy for
    bad samples (``on_error``); ``require_label=False`` for prediction (unlabelled images). The randomness of a
    sample's distortion is seeded by ``(seed, epoch, index)`` (``sample_seed``)."""

    def __init__(self, source: TextSource, on_error: str = "skip", require_label: bool = True, seed: int = 0):
        check_on_error(on_error)
        if len(source) == 0:
            raise ValueError(f"{source.describe()} is empty")
        self.source, self.on_error, self.require_label, self.seed = source, on_error, require_label, seed

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
                 seed: int = 0):
        super().__init__(source, on_error, require_label, seed)
        self.charset = charset
        self.geometry = geometry or LineGeometry()
        self.augment = augment

    def __getitem__(self, item: Union[int, Tuple[int, int]]) -> Union[Dict, SkippedSample]:
        loaded = load_sample(self.source, item, self.on_error)
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
        if self.augment is not None:
            image = augment_line(self.augment, image, self.sample_seed(epoch, index))
        return dict(image=self.geometry.to_tensor(image), label=label, key=key)


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
                require_label: bool = False, augment: Optional[Callable] = None) -> DataLoader:
    """Batches of a source shaped by ``geometry``, in order, in this process: what a reader of lines runs
    (``lightocr read`` with either engine, the evaluation scripts)."""
    dataset = TextLineDataset(source, charset, geometry, require_label=require_label, augment=augment)
    return DataLoader(dataset, batch_size=batch_size, collate_fn=LineCollator(geometry))
