"""Where text-line samples come from: LMDB, label files, synthetic rendering, and mixtures of them.

A source maps an index to ``(image, label, key)``: a PIL image, its text, and a key that names the sample in
error messages (the LMDB path and record, or the image path). Sources raise on bad samples; the dataset
wrapper (``lightocr.data.dataset``) decides whether to skip and count them or to stop.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

Sample = Tuple[Image.Image, str, str]


class TextSource:
    """Base class: ``len(source)`` samples, ``source.load(i)`` returns ``(image, label, key)``.

    Args:
        ratio: this source's share when several training sources are mixed (relative to the others).
    """

    def __init__(self, ratio: float = 1.0):
        if ratio <= 0:
            raise ValueError(f"{type(self).__name__}: ratio must be positive, got {ratio}")
        self.ratio = ratio

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int) -> Sample:
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


def open_image(data: "bytes | str | Path", key: str) -> Image.Image:
    """Decode an image fully (so that a truncated file fails here, naming ``key``)."""
    try:
        image = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
        image.load()
    except FileNotFoundError:
        raise FileNotFoundError(f"{key}: image file not found") from None
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for corrupt files
        raise OSError(f"{key}: cannot decode image ({type(error).__name__}: {error})") from None
    return image


_ENVIRONMENTS: Dict[str, Tuple[int, object]] = {}


def _environment(path: str):
    """One read-only LMDB handle per path and process (LMDB refuses a second one; a forked loader worker
    opens its own, since a handle must not cross a fork)."""
    pid, env = _ENVIRONMENTS.get(path, (None, None))
    if pid != os.getpid():
        import lmdb
        try:
            env = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False, max_readers=256)
        except lmdb.Error as error:
            raise OSError(f"cannot open LMDB {path}: {error}") from None
        _ENVIRONMENTS[path] = (os.getpid(), env)
    return env


class LmdbSource(TextSource):
    """An LMDB in the format of the public scene-text releases (clovaai/deep-text-recognition-benchmark):
    ``num-samples``, then ``image-%09d`` (encoded image bytes) and ``label-%09d`` (UTF-8), numbered from 1."""

    def __init__(self, path: str, ratio: float = 1.0):
        super().__init__(ratio)
        self.path = str(path)
        if not Path(self.path).exists():
            raise FileNotFoundError(f"LMDB not found: {self.path}")
        with _environment(self.path).begin() as txn:
            count = txn.get(b"num-samples")
        if count is None:
            raise ValueError(f"{self.path} is not a text-recognition LMDB: it has no 'num-samples' record")
        self.num_samples = int(count)

    def __len__(self) -> int:
        return self.num_samples

    def load(self, index: int) -> Sample:
        number = index + 1
        key = f"{self.path}:image-{number:09d}"
        with _environment(self.path).begin() as txn:
            image_bytes = txn.get(f"image-{number:09d}".encode())
            label_bytes = txn.get(f"label-{number:09d}".encode())
        if image_bytes is None or label_bytes is None:
            raise KeyError(f"{key}: record missing from the LMDB")
        return open_image(bytes(image_bytes), key), label_bytes.decode("utf-8"), key

    def describe(self) -> str:
        return f"LMDB {self.path} ({self.num_samples} samples)"


class LabelFileSource(TextSource):
    """PaddleOCR's label files: one ``relative/image/path<TAB>label`` per line, paths relative to ``root``
    (default: the label file's folder). Malformed lines are counted and reported once, then left out."""

    def __init__(self, path: str, root: Optional[str] = None, ratio: float = 1.0):
        super().__init__(ratio)
        self.path = str(path)
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"label file not found: {self.path}")
        self.root = Path(root) if root is not None else Path(self.path).parent
        self.entries: List[Tuple[str, str]] = []
        malformed = []
        for number, line in enumerate(Path(self.path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            if "\t" not in line:
                malformed.append(number)
                continue
            image_path, label = line.split("\t", 1)
            self.entries.append((image_path, label))
        if malformed:
            warnings.warn(f"{self.path}: {len(malformed)} lines without a TAB between path and label were left out "
                          f"(lines {malformed[:5]}{' ...' if len(malformed) > 5 else ''})", stacklevel=2)

    def __len__(self) -> int:
        return len(self.entries)

    def load(self, index: int) -> Sample:
        relative, label = self.entries[index]
        path = self.root / relative
        return open_image(path, str(path)), label, str(path)

    def describe(self) -> str:
        return f"label file {self.path} ({len(self.entries)} samples)"


class MixedSource(TextSource):
    """Several sources drawn in proportion to their ``ratio``; ``size`` samples per epoch (default: the sum).

    The draw is a fixed, seeded table of ``(source, index)`` pairs, so every index maps to the same sample on
    every rank and worker; each source is walked through in a shuffled order and wraps around when exhausted.
    """

    def __init__(self, sources: Sequence[TextSource], size: Optional[int] = None, seed: int = 0):
        super().__init__(1.0)
        if not sources:
            raise ValueError("MixedSource needs at least one source")
        self.sources = list(sources)
        for source in self.sources:
            if len(source) == 0:
                raise ValueError(f"{source.describe()} is empty")
        size = size or sum(len(s) for s in self.sources)
        total = sum(s.ratio for s in self.sources)
        counts = [int(round(size * s.ratio / total)) for s in self.sources]
        rng = np.random.default_rng(seed)
        table = []
        for k, (source, count) in enumerate(zip(self.sources, counts)):
            order = np.concatenate([rng.permutation(len(source)) for _ in range(-(-count // len(source)))])
            table.extend((k, int(i)) for i in order[:count])
        rng.shuffle(table)
        self.table = table

    def __len__(self) -> int:
        return len(self.table)

    def load(self, index: int) -> Sample:
        source, inner = self.table[index]
        return self.sources[source].load(inner)

    def describe(self) -> str:
        return " + ".join(f"{s.describe()} x{s.ratio:g}" for s in self.sources)
