"""Pages labelled on disk, as the public text-detection sets ship them:

- ``Icdar2015Source``: a folder of images and one text file per image (``gt_img_1.txt`` for ``img_1.jpg``), a
  region a line: ``x1,y1,x2,y2,x3,y3,x4,y4,transcription`` (Karatzas et al. 2015), ``###`` for don't-care;
- ``PaddleDetectionLabelSource``: PaddleOCR's detection label file, an image a line:
  ``path<TAB>[{"transcription": "...", "points": [[x, y], ...]}, ...]``, ``###`` or ``*`` for don't-care.

Text files are UTF-8, with or without a byte-order mark. A region its file describes badly (fewer than 8
numbers, a coordinate that is not a number, fewer than 3 points) is kept as a ``Region`` with its ``problem`` and
``origin`` (file and line), for the detection data to count and skip, or raise under ``on_error="raise"``; a
page whose label cannot be read at all (a missing label file, a line that is not JSON) raises ``LabelError``,
which the dataset counts as a ``bad_label`` sample.
"""
import json
from pathlib import Path
from typing import List, Optional

from ..textfiles import read_lines
from .sources import (DONT_CARE, IMAGE_SUFFIXES, LabelError, LabelFileSource, Region, Sample, SampleSource,
                      open_image)

PADDLE_DONT_CARE = ("###", "*")  # PaddleOCR's DetLabelEncode marks both


def icdar2015_region(line: str, origin: str) -> Region:
    """One line of an ICDAR2015 label file: eight coordinates, then the transcription (which may hold commas)."""
    fields = line.split(",", 8)
    numbers: List[float] = []
    for field in fields[:8]:
        try:
            numbers.append(float(field))
        except ValueError:
            break
    if len(numbers) == 8:
        text = fields[8] if len(fields) > 8 else ""
        return Region(tuple(zip(numbers[0::2], numbers[1::2])), text, origin)
    problem = (f"a coordinate that is not a number ({fields[len(numbers)].strip()!r})" if len(fields) == 9
               else f"fewer than 8 numbers ({len(numbers)})")
    return Region((), fields[-1] if len(fields) > len(numbers) else "", origin, problem)


class Icdar2015Source(SampleSource):
    """The images of ``images`` (a folder, sorted by name) with their ICDAR2015 label files in ``labels`` (default:
    the same folder), named by ``label_name`` from the image's stem (``gt_{stem}.txt``, as ICDAR2015 names them)."""

    def __init__(self, images: str, labels: Optional[str] = None, label_name: str = "gt_{stem}.txt",
                 ratio: float = 1.0, name: Optional[str] = None):
        self.images = Path(images)
        super().__init__(ratio, name)
        if not self.images.is_dir():
            raise FileNotFoundError(f"ICDAR2015 image folder not found: {self.images}")
        self.labels, self.label_name = Path(labels) if labels else self.images, label_name
        self.paths = sorted(p for p in self.images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def __len__(self) -> int:
        return len(self.paths)

    def default_name(self) -> str:
        return self.images.name

    def key(self, index: int, epoch: int = 0) -> str:
        return str(self.paths[index])

    def label_path(self, index: int) -> Path:
        return self.labels / self.label_name.format(stem=self.paths[index].stem)

    def load(self, index: int, epoch: int = 0) -> Sample:
        key, label = self.key(index), self.label_path(index)
        if not label.is_file():
            raise LabelError(f"no label file {label} for {key}")
        regions = [icdar2015_region(line.strip(), f"{label}, line {number}")
                   for number, line in enumerate(read_lines(label, "ICDAR2015 label file"), 1) if line.strip()]
        return open_image(key, key), regions, key

    def describe(self) -> str:
        return f"ICDAR2015 pages in {self.images} ({len(self.paths)} images)"


def paddle_region(entry: object, origin: str) -> Region:
    """One ``{"transcription", "points"}`` of a PaddleOCR detection label."""
    if not isinstance(entry, dict):
        return Region((), "", origin, f"a region that is not an object ({entry!r:.40})")
    text = str(entry.get("transcription", ""))
    points = entry.get("points")
    try:
        polygon = tuple((float(x), float(y)) for x, y in points)
    except (TypeError, ValueError):
        return Region((), text, origin, f"points that are not [[x, y], ...] ({points!r:.60})")
    return Region(polygon, DONT_CARE if text in PADDLE_DONT_CARE else text, origin)


class PaddleDetectionLabelSource(LabelFileSource):
    """PaddleOCR's detection label file (``path<TAB>`` a JSON list of regions), image paths relative to ``root``
    (default: the label file's folder)."""

    def load(self, index: int, epoch: int = 0) -> Sample:
        key = self.key(index)
        path, number, label = self.entries[index]
        origin = f"{self.path}, line {number}"
        try:
            entries = json.loads(label)
        except json.JSONDecodeError as error:
            raise LabelError(f"{origin}: the label is not JSON ({error})") from None
        if not isinstance(entries, list):
            raise LabelError(f"{origin}: the label is not a list of regions")
        return open_image(key, key), [paddle_region(entry, origin) for entry in entries], key

    def describe(self) -> str:
        return f"PaddleOCR detection label file {self.path} ({len(self.entries)} pages)"
