"""A text-recognition dataset over any ``TextSource``: label checks, image conversion, and the skip policy.

A sample that cannot be used (an image that is missing or does not decode, an empty label, a label with
symbols outside the charset) becomes a ``SkippedSample`` naming its key and the reason, which the collator
leaves out of the batch and the task counts and reports. With ``on_error="raise"`` the same problem raises
at once, naming the sample.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Union

from torch.utils.data import Dataset

from ..ocr.charset import Charset
from .sources import TextSource
from .transforms import resize_line

ON_ERROR = ("skip", "raise")


class BadSampleError(ValueError):
    """A sample that cannot be used, raised under ``on_error="raise"``."""


@dataclass(frozen=True)
class SkippedSample:
    key: str
    kind: str  # image, empty_label, unknown_symbols (the task adds too_long)
    reason: str


class TextLineDataset(Dataset):
    def __init__(self, source: TextSource, charset: Charset, height: int = 32, max_width: int = 320,
                 channels: int = 3, on_error: str = "skip", require_label: bool = True):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        if len(source) == 0:
            raise ValueError(f"{source.describe()} is empty")
        self.source, self.charset = source, charset
        self.height, self.max_width, self.channels = height, max_width, channels
        self.on_error = on_error
        self.require_label = require_label

    def __len__(self) -> int:
        return len(self.source)

    def _bad(self, key: str, kind: str, reason: str) -> SkippedSample:
        if self.on_error == "raise":
            raise BadSampleError(f"{key}: {reason} (set the data module's on_error to 'skip' to count and skip "
                                 f"such samples)")
        return SkippedSample(key, kind, reason)

    def __getitem__(self, index: int) -> Union[Dict, SkippedSample]:
        try:
            image, label, key = self.source.load(index)
        except (OSError, KeyError, ValueError) as error:
            return self._bad(f"{self.source.describe()}[{index}]", "image", str(error))
        label = self.charset.normalize(label)
        if not label and self.require_label:
            return self._bad(key, "empty_label", "empty label")
        unknown = self.charset.unknown(label)
        if unknown:
            return self._bad(key, "unknown_symbols",
                             f"label {label!r} has symbols outside the charset: {''.join(unknown)!r}")
        return dict(image=resize_line(image, self.height, self.max_width, self.channels), label=label, key=key)
