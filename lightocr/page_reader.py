"""Reading a page: a text detector and a text recognizer chained, as PaddleOCR's ``TextSystem`` and docTR's
``ocr_predictor`` chain theirs, on the Lightning-free predictors (``lightocr.predictor``).

1. The detector finds the text lines of a page (``DetectionPredictor``: DB's boxes in the page's pixels).
2. Each line is cut out by a perspective transform of its quadrilateral onto an upright rectangle
   (``crop_line``). A crop taller than wide is a line written upwards or downwards: it is read turned both
   ways, keeping the more confident reading.
3. The crops are recognized in batches of similar width (``TextPredictor``; it converts them to its own input
   channels and pads the narrow ones).
4. The lines are put in reading order (``reading_order``): top to bottom, columns left to right.

    import lightocr
    reader = lightocr.PageReader(det="det.onnx", rec="rec.onnx")   # checkpoints too; no argument: the models
    lines = reader("page.png")                                     # that ship with lightocr
    for line in lines:
        print(line.text, line.confidence, line.polygon.tolist())
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from PIL import Image

from .errors import ModelFileError
from .predictor import ImageInput, Predictor, open_predictor
from .pretrained import DEFAULT_DETECTOR, DEFAULT_RECOGNIZER

DETECTION, RECOGNITION = "text-detection", "text-recognition"
# margins of a line crop, times its height: the mean of the synthetic lines' (LineRenderer: up to half the ink
# height left and right, a quarter above and below)
CROP_MARGIN = (0.25, 0.1)
ModelInput = Union[str, Path, Predictor, None]
# the least contrast (grey levels, in one colour channel) of a ruling line with the paper around it along most of
# its run; measured on synthetic pages: between the columns of forms 18 to 51 (detected lines; 7 on the true
# boxes of a dark form), between columns of text (no rule; noise, specks, texture) 0 to 3.3
RULE_CONTRAST = 6
# the most lines of side-by-side groups that may stand offset for the groups to be read as rows (_offset_share):
# any rows of cells but columns of text (_text_columns), and, with the page's pixels, a form whose columns a
# ruling line parts, though its cells stand less level (text at the top of cells, in print of another size in
# each). On 100 pages of each kind in the training fonts tilted up to 2 degrees, their true boxes (RAGGED_RIGHT
# 0.4, rows of cells not yet joined), with pixels: 2 column pages and 6 forms read out of written order at 0.05, 2
# and 4 at 0.15 for every side-by-side group; the looser limit for ruled forms only, since on detected boxes it
# read columns of like-length words as rows (held-out column pages)
ROWS_MOST_OFFSET, RULED_ROWS_MOST_OFFSET = 0.05, 0.15
# the least spread of a column's right edges, times its line height, for it to be ragged right (_set_as_text);
# columns of single words of like length were seen spread 0.31 and 0.46 times their height. True boxes of 100
# training-font pages per kind, with pixels: column pages read out of order 2 at 0.5 and 0.4, none at 0.3 to
# 0.2; no receipt or form at any of them
RAGGED_RIGHT = 0.3
RuleFinder = Callable[[float, float, float, float], float]


@dataclass(frozen=True)
class TextLine:
    """A line read on a page: its ``polygon`` (``(n, 2)`` corners clockwise from the top left, page pixels),
    ``text``, the recognizer's ``confidence`` and the detector's ``score``."""
    polygon: np.ndarray
    text: str
    confidence: float
    score: float

    def as_dict(self, number: int) -> Dict[str, Any]:
        return dict(line=number, polygon=np.round(self.polygon).astype(int).tolist(), text=self.text,
                    confidence=round(float(self.confidence), 4), score=round(float(self.score), 4))


@dataclass(frozen=True)
class PageResult:
    """The lines of one page in reading order, or ``error``: why the page could not be read (then no lines and
    no ``image``, the decoded page)."""
    key: str
    lines: List[TextLine]
    error: Optional[str] = None
    image: Optional[Image.Image] = field(default=None, repr=False)


# geometry ---------------------------------------------------------------------------------------------
def quadrilateral(polygon: np.ndarray) -> np.ndarray:
    """The four corners (clockwise from the top left) of a detected polygon: itself when it has four, else its
    minimum-area rectangle."""
    from .tasks.detection.postprocess import order_quad
    points = np.asarray(polygon, np.float32).reshape(-1, 2)
    return order_quad(points if len(points) == 4 else cv2.boxPoints(cv2.minAreaRect(points)))


def crop_line(page: np.ndarray, polygon: np.ndarray, margin: Tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The pixels of a line's quadrilateral mapped onto an upright rectangle as long and as high as its edges
    (``cv2.warpPerspective``), grown by ``margin`` (along, across) times its height on each side, as the
    recognizer's training lines have margins around their ink; at least one pixel each way."""
    quad = quadrilateral(polygon)
    top_left, top_right, bottom_right, bottom_left = quad
    width = max(np.linalg.norm(top_right - top_left), np.linalg.norm(bottom_right - bottom_left))
    height = max(np.linalg.norm(bottom_left - top_left), np.linalg.norm(bottom_right - top_right))
    along, across = margin[0] * min(width, height), margin[1] * min(width, height)
    width, height = max(1, int(round(width + 2 * along))), max(1, int(round(height + 2 * across)))
    target = np.float32([[along, across], [width - along, across], [width - along, height - across],
                         [along, height - across]])
    transform = cv2.getPerspectiveTransform(quad, target)
    return cv2.warpPerspective(page, transform, (width, height), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REPLICATE)


def _groups(low: np.ndarray, high: np.ndarray) -> List[np.ndarray]:
    """Indices of intervals ``[low, high]`` grouped where they overlap or touch, the groups in ascending order
    with an empty gap between each two."""
    order = np.argsort(low, kind="stable")
    groups, reach = [[order[0]]], high[order[0]]
    for index in order[1:]:
        if low[index] > reach:
            groups.append([index])
        else:
            groups[-1].append(index)
        reach = max(reach, high[index])
    return [np.asarray(group) for group in groups]


def _offset_share(bounds: np.ndarray, columns: List[np.ndarray]) -> float:
    """How far side-by-side groups are from being the cells of rows (a form, a receipt's items and amounts) rather
    than columns of running text: the share of their lines that stand offset. A line beside a line of another
    group stands level with it (sharing half the lower one's height or more: a row) or offset (sharing less:
    columns of independent spacing); a line with nothing beside it (an empty cell) does not count. 1 when no line
    stands level. Columns whose lines happen to stand level look like rows: the boxes alone cannot tell them
    apart."""
    group = np.concatenate([np.full(len(column), number) for number, column in enumerate(columns)])
    lines = np.concatenate(columns)
    top, bottom = bounds[lines, 1], bounds[lines, 3]
    height = bottom - top
    other = group[:, None] != group[None, :]
    overlap = np.minimum(bottom[:, None], bottom[None, :]) - np.maximum(top[:, None], top[None, :])
    level = other & (overlap >= 0.5 * np.minimum(height[:, None], height[None, :]))
    beside = other & (overlap > 0)
    level_lines, beside_lines = level.any(1), beside.any(1)
    if not level_lines.any():
        return 1.0
    return float((beside_lines & ~level_lines).sum() / (beside_lines | level_lines).sum())


def _read_in_rows(bounds: np.ndarray, columns: List[np.ndarray], ruled: Optional[RuleFinder]) -> bool:
    """Whether side-by-side groups are read row by row: at most ``ROWS_MOST_OFFSET`` of their lines stand offset
    (``_offset_share``) and they are not columns of text (``_text_columns``), or, given the page's pixels, at most
    ``RULED_ROWS_MOST_OFFSET`` and a ruling line parts every two of them (a form's cells)."""
    offset = _offset_share(bounds, columns)
    if offset <= ROWS_MOST_OFFSET:
        return not _text_columns(bounds, columns, ruled)
    return ruled is not None and offset <= RULED_ROWS_MOST_OFFSET and \
        all(contrast >= RULE_CONTRAST for contrast in _rules_between(bounds, columns, ruled))


def _rules_between(bounds: np.ndarray, columns: List[np.ndarray], ruled: RuleFinder) -> List[float]:
    """The contrast of the strongest ruling line between each two neighbouring groups (``_rule_finder``)."""
    centre = (bounds[:, 0] + bounds[:, 2]) / 2
    contrasts = []
    for before, after in zip(columns, columns[1:]):
        both = bounds[np.r_[before, after]]
        contrasts.append(ruled(centre[before].max(), centre[after].min(), both[:, 1].min(), both[:, 3].max()))
    return contrasts


def _text_columns(bounds: np.ndarray, columns: List[np.ndarray], ruled: Optional[RuleFinder]) -> bool:
    """Whether side-by-side groups whose lines stand level in rows are columns of text all the same, as two
    columns set on one line pitch are: no ruling line runs between two of them (a form's cells have one), and
    each is three lines or more set flush left, either ragged right or justified (lines eight times as long as
    high or more): a receipt's amounts are short and stand flush right, a line split in pieces gives groups of
    one. Never without the page's pixels (``ruled`` None): the boxes alone cannot tell columns of level lines
    from a form."""
    if ruled is None or not all(_set_as_text(bounds[group]) for group in columns):
        return False
    return all(contrast < RULE_CONTRAST for contrast in _rules_between(bounds, columns, ruled))


def _set_as_text(box: np.ndarray) -> bool:
    """Whether lines (their bounding boxes) are set as a column of text: three or more, flush left, either
    ragged right or justified (lines eight times as long as high or more)."""
    if len(box) < 3:
        return False
    left, right = box[:, 0], box[:, 2]
    height = np.median(box[:, 3] - box[:, 1])
    return _spread(left) <= height / 4 and (_spread(right) >= RAGGED_RIGHT * height or
                                            np.median(right - left) >= 8 * height)


def _spread(edges: np.ndarray) -> float:
    """The median distance of ``edges`` from their median: how far a group's lines are from one alignment."""
    return float(np.median(np.abs(edges - np.median(edges))))


def _rule_finder(page: np.ndarray, turn: Optional[np.ndarray]) -> RuleFinder:
    """``rule(x0, x1, y0, y1)``: the contrast of the strongest vertical ruling line between ``x0`` and ``x1``
    over ``y0..y1`` on ``page`` turned level by ``turn`` (``_level``): per colour channel, each pixel's
    difference from the paper around it (a 15-pixel median), averaged over three pixels across (a rule a pixel
    askew still counts), its median down a pixel column (a rule runs the whole height, text crossing it less than
    half), the largest of the channels and columns (a rule may differ from its paper in hue more than in
    brightness). Noise and text have a median near 0. Only the strip asked about is turned and filtered."""
    pixels = np.asarray(page)
    level = np.float64([[1, 0, 0], [0, 1, 0]]) if turn is None else np.asarray(turn, np.float64)
    pad = 8  # the paper's median reaches 7 pixels beyond the strip

    def rule(x0: float, x1: float, y0: float, y1: float) -> float:
        x0, y0, x1, y1 = int(np.ceil(x0)), int(np.ceil(y0)), int(x1), int(y1)
        if x1 <= x0 or y1 <= y0:
            return 0.0
        shifted = level - np.float64([[0, 0, x0 - pad], [0, 0, y0 - pad]])
        strip = cv2.warpAffine(pixels, shifted, (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad),
                               borderMode=cv2.BORDER_REPLICATE)
        difference = cv2.blur(strip.astype(np.float32) - cv2.medianBlur(strip, 15), (3, 1))[pad:-pad, pad:-pad]
        return float(np.abs(np.median(difference, axis=0)).max())
    return rule


def reading_order(polygons: Sequence[np.ndarray], page: Optional[np.ndarray] = None) -> List[int]:
    """The indices of the lines in reading order, by recursive XY-cut of their bounding boxes once the page is
    turned level (``page_skew``): groups separated by an empty vertical strip are columns, read left to right
    (unless their lines stand side by side in rows, as a form's cells do: ``_offset_share``, and, given the
    ``page``'s pixels, not columns of text that share a line pitch: ``_text_columns``), and so are columns of
    text whose gutter a line or two cross (``_crossed_gutter``: a line jutting into it, a speck, a heading over
    them, read before them); groups separated by an empty horizontal strip are read top to bottom; lines that no
    strip separates are read in rows (``_touching_rows``). The vertical extents are trimmed by a sixth of each
    line's height, so that close neighbours do not touch."""
    if len(polygons) == 0:
        return []
    points, turn = _level([np.asarray(p, np.float32).reshape(-1, 2) for p in polygons])
    bounds = np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for p in points])
    trim = (bounds[:, 3] - bounds[:, 1]) / 6
    trimmed = bounds + np.stack([np.zeros_like(trim), trim, np.zeros_like(trim), -trim], 1)
    ruled = None if page is None else _rule_finder(page, turn)
    return [int(i) for i in _xy_cut(np.arange(len(points)), trimmed, bounds, ruled)]


def page_skew(points: Sequence[np.ndarray]) -> float:
    """The page's tilt: the angle in degrees by which ``cv2.getRotationMatrix2D`` turns the lines level (that
    of a page turned by ``a``, ``-a``). The median direction of the lines' long sides, each weighted by its
    length; lines less than twice as long as high (whose direction is uncertain) count only when there is no
    other."""
    rects = [cv2.minAreaRect(np.asarray(p, np.float32)) for p in points]
    sides = np.array([(w, h, a) if w >= h else (h, w, a - 90.0) for (_, (w, h), a) in rects], np.float64)
    angles = (sides[:, 2] + 45.0) % 90.0 - 45.0  # the long side's direction, in [-45, 45)
    long = sides[:, 0] >= 2 * sides[:, 1]
    if long.any():
        sides, angles = sides[long], angles[long]
    order = np.argsort(angles)
    weight = np.cumsum(sides[order, 0])
    return float(angles[order][np.searchsorted(weight, weight[-1] / 2)])


def _level(points: List[np.ndarray]) -> Tuple[List[np.ndarray], Optional[np.ndarray]]:
    """The lines turned about the page's centre by its tilt (``page_skew``), so that rows and columns stand
    straight (at 2 degrees a line 600 pixels long rises 21 pixels, the height of a line of small print), and
    the turn (a 2x3 affine transform of the page; None when it is level)."""
    angle = page_skew(points)
    if abs(angle) < 0.1:
        return points, None
    centre = np.concatenate(points).mean(0)
    turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, 1.0)
    return [np.c_[p, np.ones(len(p))].astype(np.float32) @ turn.T.astype(np.float32) for p in points], turn


def _xy_cut(indices: np.ndarray, bounds: np.ndarray, full: np.ndarray, ruled: Optional[RuleFinder]) -> List[int]:
    if len(indices) <= 1:
        return list(indices)
    box = bounds[indices]
    columns = [indices[g] for g in _groups(box[:, 0], box[:, 2])]
    if len(columns) > 1 and not _read_in_rows(full, columns, ruled):
        return [i for column in columns for i in _xy_cut(column, bounds, full, ruled)]
    crossed = _crossed_gutter(box) if len(columns) == 1 else None
    if crossed is not None:  # read as columns only when each side is set as text (_text_columns tests it too)
        sides, spanning = [indices[side] for side in crossed[0]], crossed[1]
        if _text_columns(full, sides, ruled) if _offset_share(full, sides) <= ROWS_MOST_OFFSET else \
                all(_set_as_text(full[side]) for side in sides):
            blocks = _between_spanning(indices, box, spanning) if len(spanning) else sides
            return [i for block in blocks for i in _xy_cut(block, bounds, full, ruled)]
    rows = [indices[g] for g in _groups(box[:, 1], box[:, 3])]
    if len(columns) > 1:
        rows = _rows_of_cells(rows, columns, full)
    if len(rows) > 1:
        return [i for row in rows for i in _xy_cut(row, bounds, full, ruled)]
    if len(columns) > 1:  # one row of cells
        return [i for column in columns for i in _xy_cut(column, bounds, full, ruled)]
    return [i for row in _touching_rows(indices, box) for i in row]


def _rows_of_cells(rows: List[np.ndarray], columns: List[np.ndarray], full: np.ndarray) -> List[np.ndarray]:
    """Rows of cells with a row that the trimmed boxes split joined again: a row whose lines stand in other
    columns than the lines of the row above and touch them (their whole boxes share some height) is the lower
    part of that row, as a cell's larger print set lower than the print beside it is."""
    column_of = {int(i): number for number, column in enumerate(columns) for i in column}
    joined = [rows[0]]
    for row in rows[1:]:
        above = joined[-1]
        apart = {column_of[int(i)] for i in row}.isdisjoint(column_of[int(i)] for i in above)
        if apart and full[row, 1].min() < full[above, 3].max():
            joined[-1] = np.concatenate([above, row])
        else:
            joined.append(row)
    return joined


def _crossed_gutter(box: np.ndarray, most_crossing: int = 2,
                    least_lines: int = 3) -> Optional[Tuple[List[np.ndarray], np.ndarray]]:
    """A gutter between two groups of lines that no empty strip shows, because a line or two cross it: a line
    that juts into it or a speck the detector took for text (no more than a line's height or a quarter of its
    width on its smaller side: it goes with the side that holds its centre), or a heading over both columns,
    with no other line beside it (it spans them). The cut is at a line's edge that at most ``most_crossing``
    lines cross, with ``least_lines`` lines or more wholly on each side. Returns the two sides and the spanning
    lines (indices into ``box``), or None."""
    left, top, right, bottom = box.T
    height = float(np.median(bottom - top))
    beside = (np.minimum(bottom[:, None], bottom[None, :]) > np.maximum(top[:, None], top[None, :])).sum(1) > 1
    found, fewest = None, most_crossing + 1
    for cut in np.unique(np.concatenate([left, right])):
        crossing = (left < cut) & (right > cut)
        if not 0 < crossing.sum() < fewest or min((right <= cut).sum(), (left >= cut).sum()) < least_lines:
            continue
        spanning = crossing & (np.minimum(cut - left, right - cut) > np.maximum(height, (right - left) / 4))
        if not (spanning & beside).any():
            found, fewest = (cut, spanning), crossing.sum()
    if found is None:
        return None
    cut, spanning = found
    before = (left + right) / 2 < cut
    return [np.flatnonzero(before & ~spanning), np.flatnonzero(~before & ~spanning)], np.flatnonzero(spanning)


def _between_spanning(indices: np.ndarray, box: np.ndarray, spanning: np.ndarray) -> List[np.ndarray]:
    """``indices`` in blocks from the top: the lines above the first spanning line, that line, the lines
    between it and the next, and so on (a line goes by its centre)."""
    spanning = spanning[np.argsort(box[spanning, 1])]
    rest = np.setdiff1d(np.arange(len(box)), spanning)
    block = np.searchsorted(box[spanning, 1], (box[rest, 1] + box[rest, 3]) / 2)
    blocks = [part for k, line in enumerate(spanning) for part in (rest[block == k], np.array([line]))]
    blocks.append(rest[block == len(spanning)])
    return [indices[part] for part in blocks if len(part)]


def _touching_rows(indices: np.ndarray, box: np.ndarray) -> List[List[int]]:
    """Lines that no empty strip separates, as rows from the top, each from the left: a line whose centre lies
    within the height of a row's first line joins that row (a line split in pieces, a heading beside a word)."""
    centre = (box[:, 1] + box[:, 3]) / 2
    rows: List[List[int]] = []
    first = -1
    for k in np.argsort(centre, kind="stable"):
        if rows and box[first, 1] <= centre[k] <= box[first, 3]:
            rows[-1].append(k)
        else:
            rows.append([k])
            first = k
    return [[int(indices[k]) for k in sorted(row, key=lambda k: box[k, 0])] for row in rows]


# the reader -------------------------------------------------------------------------------------------
def open_model(model: ModelInput, default: str, engine: Optional[str] = None, threads: Optional[int] = None,
               optimize: bool = True, compile: bool = False) -> Tuple[Predictor, str]:
    """The predictor of a model given as a file, a shipped model's name or a predictor (None: ``default``),
    with the name to call it by."""
    if isinstance(model, Predictor):
        return model, type(model).__name__
    name = str(model if model is not None else default)
    return open_predictor(name, None, engine, optimize, compile, threads), name


def _task_of(predictor: Predictor) -> str:
    return predictor.metadata.get("task", "")


class PageReader:
    """Reads pages with a text detector (``det``) and a text recognizer (``rec``): each a checkpoint, an
    exported ``.onnx`` file, the name of a model that ships with lightocr (``lightocr.pretrained``), or a
    predictor; None: the shipped defaults. ``engine``: ``torch`` or ``onnxruntime`` (default: each file's own,
    ONNX Runtime for the shipped models). Calling it with one image (a path, a numpy array or a PIL image)
    returns its ``TextLine``s in reading order; ``read`` takes many and reports each page's error.
    ``threads``, ``optimize``, ``compile``: as ``open_predictor`` takes them; ``beam_width``: the recognizer's
    CTC beam; ``text_height``: the detector's (a page of smaller print is detected again, enlarged); None: the
    model's own (given, they rebuild a predictor passed in with that option, ``Predictor.with_options``)."""

    def __init__(self, det: ModelInput = None, rec: ModelInput = None, engine: Optional[str] = None,
                 batch_size: int = 32, threads: Optional[int] = None, optimize: bool = True, compile: bool = False,
                 beam_width: Optional[int] = None, text_height: Optional[float] = None):
        self.detector, det_name = open_model(det, DEFAULT_DETECTOR, engine, threads, optimize, compile)
        self.recognizer, rec_name = open_model(rec, DEFAULT_RECOGNIZER, engine, threads, optimize, compile)
        found = (_task_of(self.detector), _task_of(self.recognizer))
        if found != (DETECTION, RECOGNITION):  # before any option of one task reaches a model of the other
            hint = " (given the other way round? swap them)" if found == (RECOGNITION, DETECTION) else ""
            raise ModelFileError(f"a page reader needs a {DETECTION} model as det and a {RECOGNITION} model as "
                                 f"rec: det {det_name} is a {found[0] or 'unknown'} model and rec {rec_name} a "
                                 f"{found[1] or 'unknown'} one{hint}")
        if text_height is not None:
            self.detector = self.detector.with_options(text_height=text_height)
        if beam_width is not None:
            self.recognizer = self.recognizer.with_options(beam_width=beam_width)
        self.batch_size = batch_size

    def __call__(self, image: ImageInput) -> List[TextLine]:
        result = next(iter(self.read([image], on_error="raise")))
        return result.lines

    def read(self, images: Sequence[ImageInput], on_error: str = "skip",
             max_pixels: Optional[int] = None) -> Iterator[PageResult]:
        """Each page's ``PageResult`` in order (a folder is read whole, sorted); a page that cannot be decoded
        or is larger than ``max_pixels`` has its ``error`` (``on_error="raise"``: ``BadSampleError``)."""
        from .data.samples import SkippedSample

        for triples in self.detector.results_with_images(images, 1, on_error, max_pixels):
            for key, image, found in triples:
                if isinstance(found, SkippedSample):
                    yield PageResult(key, [], found.reason)
                else:
                    yield PageResult(key, self.read_lines(image, found.boxes), image=image)

    def read_lines(self, page: Image.Image, boxes: List[Tuple[np.ndarray, float]]) -> List[TextLine]:
        """The recognized lines of the detected ``boxes`` of ``page``, in reading order; a box in which the
        recognizer reads nothing is left out."""
        if not boxes:
            return []
        pixels = np.asarray(page.convert("RGB"))
        crops, owners = [], []  # a tall crop is read turned both ways: two crops for one box
        for number, (polygon, _) in enumerate(boxes):
            crop = crop_line(pixels, polygon, CROP_MARGIN)
            turns = (1, 3) if crop.shape[0] > crop.shape[1] else (0,)
            for turn in turns:
                crops.append(Image.fromarray(np.ascontiguousarray(np.rot90(crop, turn))))
                owners.append(number)
        readings = self.recognize(crops)
        best: Dict[int, Any] = {}
        for owner, reading in zip(owners, readings):
            if owner not in best or reading.confidence > best[owner].confidence:
                best[owner] = reading
        lines = [TextLine(np.asarray(polygon, np.float32), best[i].text, best[i].confidence, score)
                 for i, (polygon, score) in enumerate(boxes) if best[i].text.strip()]  # a box read as nothing goes
        return [lines[i] for i in reading_order([line.polygon for line in lines], pixels)]

    def recognize(self, crops: List[Image.Image]) -> List[Any]:
        """The recognizer's predictions of line crops, in the crops' order (``recognize_crops``)."""
        return recognize_crops(self.recognizer, crops, self.batch_size)


def recognize_crops(recognizer: Predictor, crops: List[Image.Image], batch_size: int = 32) -> List[Any]:
    """A recognizer's predictions of line crops, batched by similar aspect ratio (less padding), in the crops'
    order."""
    order = sorted(range(len(crops)), key=lambda i: crops[i].width / max(1, crops[i].height))
    predictions: List[Any] = [None] * len(crops)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        inputs = recognizer.collate([recognizer.prepare(crops[i]) for i in batch])
        for index, prediction in zip(batch, recognizer.predict_batch(inputs)):
            predictions[index] = prediction
    return predictions


# output -----------------------------------------------------------------------------------------------
def tsv_lines(result: PageResult) -> List[str]:
    r"""A page's lines as ``path<TAB>line number<TAB>x1,y1,...,x4,y4<TAB>text<TAB>confidence`` rows (tabs,
    newlines and backslashes in the path or text escaped as ``\t``, ``\n``, ``\\``)."""
    from .predictor import TSV_ESCAPES
    key = str(result.key).translate(TSV_ESCAPES)
    return [f"{key}\t{number}\t{','.join(str(v) for v in np.round(line.polygon).astype(int).reshape(-1))}\t"
            f"{line.text.translate(TSV_ESCAPES)}\t{line.confidence:.4f}"
            for number, line in enumerate(result.lines, 1)]


def as_document(results: Sequence[PageResult]) -> Dict[str, Any]:
    """The pages as one JSON-ready document: ``{"pages": [{"path", "lines": [{"line", "polygon", "text",
    "confidence", "score"}], "error"}]}``."""
    return dict(pages=[dict(path=r.key, lines=[line.as_dict(n) for n, line in enumerate(r.lines, 1)],
                            error=r.error) for r in results])


def draw_page(page: Image.Image, lines: Sequence[TextLine]) -> Image.Image:
    """The page with each line's box and number drawn, beside a white page with each line's text written in its
    box (as tall as the box allows): for a person to check a reading at a glance."""
    from PIL import ImageDraw, ImageFont

    page = page.convert("RGB")
    canvas = Image.new("RGB", (page.width * 2, page.height), "white")
    canvas.paste(page, (0, 0))
    pen, pen_width = ImageDraw.Draw(canvas), max(1, round(max(page.size) / 500))
    for number, line in enumerate(lines, 1):
        colour = tuple(int(c) for c in np.random.default_rng(number).integers(0, 200, 3))
        outline = [tuple(p) for p in line.polygon.tolist()]
        pen.polygon(outline, outline=colour, width=pen_width)
        pen.polygon([(x + page.width, y) for x, y in outline], outline=colour, width=pen_width)
        x0, y0 = line.polygon.min(0)
        x1, y1 = line.polygon.max(0)
        size = max(8, int(min(y1 - y0, 1.2 * (x1 - x0) / max(1, len(line.text))) * 0.8))
        font = ImageFont.load_default(size)
        pen.text((x0 + page.width + 2, y0), line.text, fill=(0, 0, 0), font=font)
        pen.text((x0, max(0, y0 - 10)), str(number), fill=colour, font=ImageFont.load_default(10))
    return canvas
