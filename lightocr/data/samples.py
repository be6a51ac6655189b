"""Samples and the skip-or-raise policy, in numpy and Pillow alone (the readers use them without torch).

A sample that cannot be used (an image that is missing, does not decode, or is over the pixel limit; a label
that does not fit; an augmentation or conversion that fails on it) becomes a ``SkippedSample`` naming its key,
the kind and the reason, which the collators leave out of the batch and the tasks count and report. With
``on_error="raise"`` the same problem raises at once, naming the sample.
"""
from typing import Callable, Dict, NamedTuple, Optional, Tuple, Union

import numpy as np
from PIL import Image

from .sources import ImageTooLargeError, LabelError, SampleSource, decode_image

ON_ERROR = ("skip", "raise")
# every kind of skipped sample, in a fixed order (counters are reduced across DDP ranks as one vector)
SKIP_KINDS = ("image", "empty_label", "unknown_symbols", "too_long", "empty_batch", "unknown_class", "too_large",
              "transform", "bad_region", "bad_label")
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


class SourceDataset:
    """The samples of a non-empty source by ``index`` or ``(epoch, index)``, under the skip-or-raise policy for
    bad samples (``on_error``); ``require_label=False`` for prediction (unlabelled images). The randomness of a
    sample's distortion is seeded by ``(seed, epoch, index)`` (``sample_seed``). Images over ``max_pixels``
    (``size_problem``) are skipped as ``too_large`` from their header, before they are decoded."""

    def __init__(self, source: SampleSource, on_error: str = "skip", require_label: bool = True, seed: int = 0,
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
        an image that cannot be read (``image``) or is too large (``too_large``), or whose label cannot be read
        (``bad_label``), raised under ``on_error="raise"``."""
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
            kind = ("too_large" if isinstance(error, ImageTooLargeError) else
                    "bad_label" if isinstance(error, LabelError) else "image")
            return bad_sample(self.on_error, key, kind, reason)
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
