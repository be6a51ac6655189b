"""Where text-line samples come from: LMDB, label files, synthetic rendering, and mixtures of them.

A source maps an index (and the epoch) to ``(image, label, key)``: a PIL image, its text, and a key that names
the sample in error messages (the LMDB path and record, or the image path). Sources raise on bad samples; the
dataset wrapper (``lightocr.data.dataset``) decides whether to skip and count them or to stop. Stored sources
give the same sample in every epoch; generated and mixed ones draw new samples each epoch.
"""
from __future__ import annotations

import bisect
import io
import os
import warnings
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageOps

from ..textfiles import read_lines

DONT_CARE = "###"  # a region's text when it is to be neither learnt nor found (the ICDAR convention)


class Region(NamedTuple):
    """A text region of a page: its polygon (``(x, y)`` corners in pixels, clockwise) and its text (``###``:
    don't-care); for a region read from a file, ``origin`` names the file and line, and ``problem`` says what the
    file got wrong (then the region is not used)."""
    polygon: Tuple[Tuple[float, float], ...]
    text: str
    origin: str = ""
    problem: str = ""


class LabelError(ValueError):
    """A sample whose label cannot be read (a missing label file, a line that does not parse)."""


# (image, label, key): the label is a line's text, an image's class, or a page's text regions
Sample = Tuple[Image.Image, Union[str, List[Region]], str]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")


class SampleSource:
    """Base class: ``len(source)`` samples per epoch; ``source.load(i, epoch)`` returns ``(image, label, key)``
(``Sample``: the label is a text line's text, an image's class name, or a page's ``Region`` list).

    Args:
        ratio: this source's share when several training sources are mixed (relative to the others).
        name: how metrics name this source when it validates (``val/<name>/word_acc``); default: derived
            from the file name or the kind of source.
    """

    def __init__(self, ratio: float = 1.0, name: Optional[str] = None):
        if ratio <= 0:
            raise ValueError(f"{type(self).__name__}: ratio must be positive, got {ratio}")
        self.ratio = ratio
        self.name = name or self.default_name()

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int, epoch: int = 0) -> Sample:
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__

    def key(self, index: int, epoch: int = 0) -> str:
        """The name of a sample in messages, known without loading it."""
        return f"{self.describe()}[{index}]"

    def default_name(self) -> str:
        return type(self).__name__.removesuffix("Source").lower()

    def use_charset(self, symbols: Sequence[str], case_sensitive: bool) -> None:
        """Called by the data module with the run's charset; sources that generate text follow it."""


class ImageTooLargeError(ValueError):
    """An image over the pixel limit, refused before it is decoded."""


def open_image(data: "bytes | str | Path", key: str) -> Image.Image:
    """Open an image, reading its header only (size, mode): ``decode_image`` decodes it, after the caller has
    looked at its size. Pillow's decompression-bomb guard (an image far over ``Image.MAX_IMAGE_PIXELS``) raises
    ``ImageTooLargeError``; a file that is missing or not an image raises ``OSError``, naming ``key``."""
    try:
        with warnings.catch_warnings():  # over Image.MAX_IMAGE_PIXELS: the caller's own limit decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    except FileNotFoundError:
        raise FileNotFoundError(f"{key}: image file not found") from None
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"{key}: {error}") from None
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for files it cannot identify
        raise OSError(f"{key}: cannot decode image ({type(error).__name__}: {error})") from None


def decode_image(image: Image.Image, key: str) -> Image.Image:
    """Decode an opened image fully (a truncated file fails here, naming ``key``), turn it as its EXIF
    orientation says, and bring it to 8 bits per channel (``to_8bit``)."""
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except Exception as error:
        raise OSError(f"{key}: cannot decode image ({type(error).__name__}: {error})") from None
    return to_8bit(image)


def to_8bit(image: Image.Image) -> Image.Image:
    """An image in a mode the rest of the pipeline converts faithfully: 16- and 32-bit integer images scaled by
    their type's range (16 bits: 65535 is white; a 32-bit image whose values pass 65535 by its own maximum), float
    images by 0..1 when their values lie in it and by their own minimum and maximum otherwise (NaN as black);
    transparent images laid on white. 8-bit images are returned as they are."""
    if image.mode.startswith("I"):
        array = np.asarray(image).astype(np.float64)
        peak = float(array.max(initial=0))
        if image.mode.startswith("I;16") or 255 < peak <= 65535:
            top = 65535.0
        else:  # 32-bit: 8-bit values kept, larger ones by the image's own maximum
            top = 255.0 if peak <= 255 else peak
        return Image.fromarray(np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        array = np.asarray(image).astype(np.float64)
        finite = array[np.isfinite(array)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if low >= 0.0 and high <= 1.0:
            low, high = 0.0, 1.0
        scaled = (np.nan_to_num(array, nan=low, posinf=high, neginf=low) - low) / max(high - low, 1e-12)
        return Image.fromarray(np.clip(scaled * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return image


_ENVIRONMENTS: Dict[str, Tuple[int, object]] = {}


def _environment(path: str):
    """One read-only LMDB handle per path and process. A forked loader worker inherits the parent's handle,
    which it must not use, and py-lmdb's record that the files are open, which would refuse a second handle:
    the worker closes the inherited one (read-only and lock-free, so the parent is unaffected) and opens its own."""
    pid, env = _ENVIRONMENTS.get(path, (None, None))
    if pid != os.getpid():
        import lmdb
        if env is not None:
            env.close()
        try:
            env = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False, max_readers=256)
        except lmdb.Error as error:
            raise OSError(f"cannot open LMDB {path}: {error}") from None
        _ENVIRONMENTS[path] = (os.getpid(), env)
    return env


class LmdbSource(SampleSource):
    """An LMDB in the format of the public scene-text releases (clovaai/deep-text-recognition-benchmark):
    ``num-samples``, then ``image-%09d`` (encoded image bytes) and ``label-%09d`` (UTF-8), numbered from 1."""

    def __init__(self, path: str, ratio: float = 1.0, name: Optional[str] = None):
        self.path = str(path)
        super().__init__(ratio, name)
        if not Path(self.path).exists():
            raise FileNotFoundError(f"LMDB not found: {self.path}")
        with _environment(self.path).begin() as txn:
            count = txn.get(b"num-samples")
        if count is None:
            raise ValueError(f"{self.path} is not a text-recognition LMDB: it has no 'num-samples' record")
        self.num_samples = int(count)

    def __len__(self) -> int:
        return self.num_samples

    def default_name(self) -> str:
        return Path(self.path).name.removesuffix(".lmdb") or "lmdb"

    def key(self, index: int, epoch: int = 0) -> str:
        return f"{self.path}:image-{index + 1:09d}"

    def load(self, index: int, epoch: int = 0) -> Sample:
        number = index + 1
        key = self.key(index)
        with _environment(self.path).begin() as txn:
            image_bytes = txn.get(f"image-{number:09d}".encode())
            label_bytes = txn.get(f"label-{number:09d}".encode())
        if image_bytes is None or label_bytes is None:
            raise KeyError(f"{key}: record missing from the LMDB")
        return open_image(bytes(image_bytes), key), label_bytes.decode("utf-8"), key

    def describe(self) -> str:
        return f"LMDB {self.path} ({self.num_samples} samples)"


class LabelFileSource(SampleSource):
    """PaddleOCR's label files: one ``relative/image/path<TAB>label`` per line, paths relative to ``root``
    (default: the label file's folder). Malformed lines are counted and reported once, then left out."""

    def __init__(self, path: str, root: Optional[str] = None, ratio: float = 1.0, name: Optional[str] = None):
        self.path = str(path)
        super().__init__(ratio, name)
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"label file not found: {self.path}")
        self.root = Path(root) if root is not None else Path(self.path).parent
        self.entries: List[Tuple[str, int, str]] = []  # (image path, line number, label)
        malformed = []
        for number, line in enumerate(read_lines(self.path, "label file"), 1):
            if not line.strip():
                continue
            if "\t" not in line:
                malformed.append(number)
                continue
            image_path, label = line.split("\t", 1)
            self.entries.append((image_path, number, label))
        if malformed:
            warnings.warn(f"{self.path}: {len(malformed)} lines without a TAB between path and label were left out "
                          f"(lines {malformed[:5]}{' ...' if len(malformed) > 5 else ''})", stacklevel=2)

    def __len__(self) -> int:
        return len(self.entries)

    def default_name(self) -> str:
        path = Path(self.path)
        return path.parent.name if path.stem in ("labels", "label", "gt", "train", "val", "test") else path.stem

    def key(self, index: int, epoch: int = 0) -> str:
        return str(self.root / self.entries[index][0])

    def load(self, index: int, epoch: int = 0) -> Sample:
        key = self.key(index)
        return open_image(key, key), self.entries[index][2], key

    def describe(self) -> str:
        return f"label file {self.path} ({len(self.entries)} samples)"


class ImageFilesSource(SampleSource):
    """Unlabelled images for prediction: files, every image in a folder (sorted), numpy arrays (``HxW`` or
    ``HxWxC``, RGB order) and PIL images. An image given in memory is named ``image[i]``, ``i`` its place in
    ``paths``."""

    def __init__(self, paths: Sequence[object]):
        super().__init__()
        self.items: List[Tuple[str, object]] = []  # (key, path or image)
        for place, item in enumerate(paths):
            if isinstance(item, (np.ndarray, Image.Image)):
                self.items.append((f"image[{place}]", item))
            elif Path(item).is_dir():
                self.items.extend((p, p) for p in sorted(str(p) for p in Path(item).rglob("*")
                                                         if p.suffix.lower() in IMAGE_SUFFIXES))
            else:
                self.items.append((str(item), str(item)))

    def __len__(self) -> int:
        return len(self.items)

    def key(self, index: int, epoch: int = 0) -> str:
        return self.items[index][0]

    def load(self, index: int, epoch: int = 0) -> Sample:
        key, item = self.items[index]
        if isinstance(item, np.ndarray):
            try:
                item = Image.fromarray(item)
            except (TypeError, ValueError) as error:
                raise ValueError(f"an array of shape {item.shape} and dtype {item.dtype} is not an image "
                                 f"(HxW or HxWxC): {error}") from None
        return (item if isinstance(item, Image.Image) else open_image(item, key)), "", key

    def describe(self) -> str:
        return f"{len(self.items)} images"


class MixedSource(SampleSource):
    """Several sources drawn in proportion to their ``ratio``; ``size`` samples per epoch (default: the sum).

    Index ``i`` of an epoch belongs to source ``k`` by fixed ranges of sizes proportional to the ratios (the
    training sampler shuffles the indices). Source ``k``'s draws continue from epoch to epoch through a seeded
    permutation of its samples that changes each time it wraps around: every epoch draws fresh samples, and a
    source is walked whole before any sample repeats. Nothing is stored per sample, so memory does not grow with
    the number of samples and loader workers copy nothing large.
    """

    def __init__(self, sources: Sequence[SampleSource], size: Optional[int] = None, seed: int = 0,
                 name: Optional[str] = None):
        super().__init__(1.0, name)
        if not sources:
            raise ValueError("MixedSource needs at least one source")
        self.sources = list(sources)
        for source in self.sources:
            if len(source) == 0:
                raise ValueError(f"{source.describe()} is empty")
        self.size = size or sum(len(s) for s in self.sources)
        self.counts = largest_remainder(self.size, [s.ratio for s in self.sources])
        self.starts = [sum(self.counts[:k]) for k in range(len(self.counts))]
        self.seed = seed

    def default_name(self) -> str:
        return "mixed"

    def use_charset(self, symbols: Sequence[str], case_sensitive: bool) -> None:
        for source in self.sources:
            source.use_charset(symbols, case_sensitive)

    def __len__(self) -> int:
        return self.size

    def locate(self, index: int, epoch: int = 0) -> Tuple[int, int]:
        """``(source, index in that source)`` of the epoch's ``index``-th sample."""
        if not 0 <= index < self.size:
            raise IndexError(f"mixed index {index} outside 0..{self.size - 1}")
        k = bisect.bisect_right(self.starts, index) - 1
        draw = epoch * self.counts[k] + index - self.starts[k]
        lap, offset = divmod(draw, len(self.sources[k]))
        return k, permuted_index(offset, len(self.sources[k]), mix64(mix64(self.seed, k), lap))

    def key(self, index: int, epoch: int = 0) -> str:
        k, inner = self.locate(index, epoch)
        return self.sources[k].key(inner, epoch)

    def load(self, index: int, epoch: int = 0) -> Sample:
        k, inner = self.locate(index, epoch)
        return self.sources[k].load(inner, epoch)

    def describe(self) -> str:
        return " + ".join(f"{s.describe()} x{s.ratio:g}" for s in self.sources)


def largest_remainder(total: int, weights: Sequence[float]) -> List[int]:
    """Split ``total`` into integers proportional to ``weights`` that sum to ``total`` exactly."""
    shares = [total * w / sum(weights) for w in weights]
    counts = [int(s) for s in shares]
    for k in sorted(range(len(shares)), key=lambda k: counts[k] - shares[k])[:total - sum(counts)]:
        counts[k] += 1
    return counts


_MASK64 = (1 << 64) - 1


def mix64(value: int, salt: int) -> int:
    """A 64-bit integer hash of ``(value, salt)`` (SplitMix64's finalizer)."""
    z = (value * 0x9E3779B97F4A7C15 + salt * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def permuted_index(index: int, n: int, seed: int) -> int:
    """Position ``index`` of a seeded pseudo-random permutation of ``range(n)``, in O(1) memory: a 4-round
    Feistel network on the smallest even-bit domain holding ``n``, walking the cycle until it lands below ``n``."""
    half = max(1, ((n - 1).bit_length() + 1) // 2)
    mask = (1 << half) - 1
    x = index
    while True:
        left, right = x >> half, x & mask
        for round_ in range(4):
            left, right = right, left ^ (mix64(right, seed + round_) & mask)
        x = (left << half) | right
        if x < n:
            return x
