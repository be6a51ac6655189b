"""Synthetic pages for text detection, rendered on the fly with the text lines' parts (``TextSampler``,
``FontPool``, ``LineRenderer``): each text line (or word) of a page is labelled with its polygon (the box of its
ink) and its text. A page is a background (sometimes of low contrast) and a layout:

- backgrounds (``BACKGROUNDS``): ``paper``, ``gradient``, ``texture``, ``noise`` (photo-like), ``ruled``
  (notebook), ``speckle`` (recycled paper);
- ``paragraph``: a heading and left-aligned lines; ``columns``: two or three of them side by side;
- ``form``: a table of ruled cells, a short text in most;
- ``receipt``: a narrow column of item names on the left and amounts on the right;
- ``label``: a few large centred lines on a coloured patch.

With ``faded`` > 0 that share of the lines is drawn faded: its ink laid on at 35-70% strength (worn print, a dry
ribbon, grey type), labelled as any other line.

Pages come upright; rotation (small, or by 90 degrees), perspective and curvature are the detection data's
augmentation, which moves the polygons with the image. A page is a pure function of ``(seed, epoch, index)``.
"""
import string
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from .backgrounds import BACKGROUNDS, background, page_ink
from .sources import Region, Sample, SampleSource
from .synthetic import DEFAULT_FONT_DIRS, HAIRLINE_FONTS, FontPool, LineRenderer, TextSampler

LAYOUTS = ("paragraph", "columns", "form", "receipt", "label")
PAGE_ALPHABET = string.ascii_lowercase + string.digits + " .,:-/()%$"
Box = Tuple[int, int, int, int]  # x0, y0, x1, y1


def word_spans(inked: np.ndarray, text: str, min_gap: int) -> List[Tuple[int, int, str]]:
    """``(first column, end column, word)`` of each word of a line's ink mask ``(height, width)``: the runs of
    inked columns split at gaps of at least ``min_gap`` blank columns; empty when they are not as many as the
    words of ``text`` (a letter-spaced font, a glyph with a hole in it), for the line to stay one region."""
    words = text.split()
    columns = np.flatnonzero(inked.any(axis=0))
    if not len(columns) or not words:
        return []
    breaks = np.flatnonzero(np.diff(columns) > min_gap)
    starts, ends = np.r_[columns[0], columns[breaks + 1]], np.r_[columns[breaks] + 1, columns[-1] + 1]
    return list(zip(starts.tolist(), ends.tolist(), words)) if len(starts) == len(words) else []


class SyntheticPageSource(SampleSource):
    """Rendered pages of ``page_size`` (a ``(min, max)`` range of each side, pixels) in the ``layouts`` named
    (drawn by ``layout_weights``) on the ``backgrounds`` named (equally often), their lines ``line_height``
    pixels high (a range) in the fonts of a ``FontPool`` (``font_dirs`` ... ``hershey_fonts``, as
    ``SyntheticTextSource`` takes them); ``size`` pages per epoch. The label of a page is its ``Region`` list: a
    region per line, or with ``regions="words"`` per word (split at the gaps of the ink; a line whose gaps do not
    give its words stays one region); ``faded``: the share of lines drawn faded."""

    def __init__(self, size: int = 10_000, seed: int = 0, page_size: Tuple[int, int] = (320, 640),
                 line_height: Tuple[int, int] = (12, 36), layouts: Sequence[str] = LAYOUTS,
                 layout_weights: Optional[Sequence[float]] = None, backgrounds: Sequence[str] = tuple(BACKGROUNDS),
                 regions: str = "lines", lexicon: Optional[str] = "wordfreq:en",
                 font_dirs: Sequence[str] = DEFAULT_FONT_DIRS, builtin_font: bool = True,
                 font_include: Optional[Sequence[str]] = None,
                 font_exclude: Optional[Sequence[str]] = HAIRLINE_FONTS, hershey_fonts: bool = True,
                 faded: float = 0.0, ratio: float = 1.0, name: Optional[str] = None):
        super().__init__(ratio, name)
        unknown = sorted(set(layouts) - set(LAYOUTS)) + sorted(set(backgrounds) - set(BACKGROUNDS))
        if regions not in ("lines", "words"):
            raise ValueError(f"SyntheticPageSource: regions must be 'lines' or 'words', got {regions!r}")
        if not 0 <= faded <= 1:
            raise ValueError(f"SyntheticPageSource: faded is the share of faded lines, in [0, 1], got {faded}")
        if size < 1 or unknown or not layouts or not backgrounds:
            raise ValueError(f"SyntheticPageSource: size must be positive, layouts some of {LAYOUTS} and backgrounds "
                             f"some of {tuple(BACKGROUNDS)}, got {size}, {list(layouts)} and {list(backgrounds)}")
        self.backgrounds, self.regions, self.faded = list(backgrounds), regions, faded
        self.size, self.seed, self.page_size, self.line_height = size, seed, page_size, line_height
        self.layouts = list(layouts)
        weights = np.asarray(layout_weights or [1.0] * len(self.layouts), dtype=np.float64)
        self.layout_weights = weights / weights.sum()
        self.font_pool = FontPool(font_dirs, builtin_font, font_include, font_exclude, hershey_fonts)
        self.sampler = TextSampler(PAGE_ALPHABET, min_length=2, max_length=48, lexicon=lexicon, lexicon_ratio=0.8,
                                   number_ratio=0.1, fonts=self.font_pool, name=self.describe())
        self.renderer = LineRenderer(self.font_pool, font_size=(28, 44), font_box_ratio=0.0)
        self.draw: Dict[str, Callable] = dict(paragraph=self.paragraph, columns=self.columns, form=self.form,
                                              receipt=self.receipt, label=self.label)

    def __len__(self) -> int:
        return self.size

    def default_name(self) -> str:
        return "pages"

    def key(self, index: int, epoch: int = 0) -> str:
        return f"pages(seed={self.seed}, epoch={epoch}):{index}"

    def describe(self) -> str:
        return f"synthetic pages ({self.size} per epoch, seed {self.seed}, {len(self.font_pool)} fonts)"

    def load(self, index: int, epoch: int = 0) -> Sample:
        if not 0 <= index < self.size:
            raise IndexError(f"page index {index} outside 0..{self.size - 1}")
        rng = np.random.default_rng([self.seed, epoch, index])
        height, width = (int(rng.integers(self.page_size[0], self.page_size[1] + 1)) for _ in range(2))
        page = background(rng, height, width, self.backgrounds)
        layout = self.layouts[int(rng.choice(len(self.layouts), p=self.layout_weights))]
        regions: List[Region] = []
        self.draw[layout](page, rng, regions)
        return Image.fromarray(page), regions, self.key(index, epoch)

    # lines -------------------------------------------------------------------------------------------
    def write(self, page: np.ndarray, rng: np.random.Generator, regions: List[Region], x: int, y: int,
              height: int, max_width: int, text: Optional[str] = None, align: str = "left",
              ink: Optional[np.ndarray] = None) -> int:
        """Draw a line of ``text`` (a sampled one by default) ``height`` pixels high from ``(x, y)`` (its right end
        at ``x`` for ``align="right"``, its centre for ``"center"``), at most ``max_width`` wide, and record its
        region; returns its width (0 when nothing fits)."""
        text = text or self.sampler.text(rng)
        mask = np.asarray(self.renderer.ink(text, rng), dtype=np.float32) / 255
        scale = height / mask.shape[0]
        if mask.shape[1] * scale > max_width:
            scale = max_width / mask.shape[1]
        w, h = int(mask.shape[1] * scale), int(mask.shape[0] * scale)
        if w < 2 or h < 4:
            return 0
        left = x - w if align == "right" else x - w // 2 if align == "center" else x
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)
        y0, x0 = max(y, 0), max(left, 0)
        y1, x1 = min(y + h, page.shape[0]), min(left + w, page.shape[1])
        if y1 - y0 < 4 or x1 - x0 < 2:
            return 0
        coverage = mask[y0 - y:y1 - y, x0 - left:x1 - left]
        # no random draw when faded is 0: the pages stay those of the same seed without the option
        strength = rng.uniform(0.35, 0.7) if self.faded and rng.random() < self.faded else 1.0
        alpha = coverage[..., None] * strength
        colour = ink if ink is not None else page_ink(page[y0:y1, x0:x1], rng)
        page[y0:y1, x0:x1] = (page[y0:y1, x0:x1] * (1 - alpha) + colour * alpha).astype(np.uint8)
        inked = coverage > 0.25
        spans = [(0, inked.shape[1], text)]
        if self.regions == "words":
            spans = word_spans(inked, text, min_gap=max(2, int(0.2 * h))) or spans
        for start, end, words in spans:
            rows, columns = np.nonzero(inked[:, start:end])
            if len(rows):
                bx0, by0 = x0 + start + columns.min(), y0 + rows.min()
                bx1, by1 = x0 + start + columns.max() + 1, y0 + rows.max() + 1
                regions.append(Region(((bx0, by0), (bx1, by0), (bx1, by1), (bx0, by1)), words))
        return w

    def phrase(self, rng: np.random.Generator, max_chars: int) -> str:
        """Sampled texts joined by spaces up to about ``max_chars`` characters (a line of a paragraph)."""
        text = self.sampler.text(rng)[:max(1, max_chars)]
        for _ in range(8):
            more = self.sampler.text(rng)
            if len(text) + 1 + len(more) > max_chars:
                break
            text = f"{text} {more}"
        return text

    # layouts -----------------------------------------------------------------------------------------
    def lines(self, page, rng, regions, box: Box, height: int, heading: bool = False) -> None:
        """Left-aligned lines down ``box``, of random lengths, a paragraph break now and then."""
        x0, y0, x1, y1 = box
        y = y0
        if heading:
            y += int(1.3 * self.write(page, rng, regions, x0, y, int(height * 1.6), x1 - x0) and height * 1.6) + 4
        while y + height <= y1:
            width = int((x1 - x0) * rng.uniform(0.4, 1.0))
            self.write(page, rng, regions, x0, y, height, width, self.phrase(rng, int(width / (0.5 * height))))
            y += int(height * rng.uniform(1.3, 1.8)) + (height if rng.random() < 0.1 else 0)

    def line_height_of(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.line_height[0], self.line_height[1] + 1))

    def margins(self, page: np.ndarray, rng: np.random.Generator) -> Box:
        height, width = page.shape[:2]
        mx, my = int(width * rng.uniform(0.03, 0.1)), int(height * rng.uniform(0.03, 0.1))
        return mx, my, width - mx, height - my

    def paragraph(self, page, rng, regions) -> None:
        self.lines(page, rng, regions, self.margins(page, rng), self.line_height_of(rng), heading=True)

    def columns(self, page, rng, regions) -> None:
        x0, y0, x1, y1 = self.margins(page, rng)
        count, gap = int(rng.integers(2, 4)), int(rng.integers(8, 24))
        width = (x1 - x0 - gap * (count - 1)) // count
        height = min(self.line_height_of(rng), max(self.line_height[0], width // 6))
        for column in range(count):
            left = x0 + column * (width + gap)
            self.lines(page, rng, regions, (left, y0, left + width, y1), height, heading=column == 0)

    def form(self, page, rng, regions) -> None:
        x0, y0, x1, y1 = self.margins(page, rng)
        rows, cols = int(rng.integers(3, 10)), int(rng.integers(2, 5))
        cell_h, cell_w = (y1 - y0) // rows, (x1 - x0) // cols
        rule = tuple(int(v) for v in rng.integers(0, 120, 3))
        for r in range(rows + 1):
            cv2.line(page, (x0, y0 + r * cell_h), (x0 + cols * cell_w, y0 + r * cell_h), rule, 1)
        for c in range(cols + 1):
            cv2.line(page, (x0 + c * cell_w, y0), (x0 + c * cell_w, y0 + rows * cell_h), rule, 1)
        height = max(self.line_height[0], min(self.line_height_of(rng), cell_h - 8))
        for r in range(rows):
            for c in range(cols):
                if rng.random() < 0.8:
                    text = self.sampler.text(rng)[:16]
                    self.write(page, rng, regions, x0 + c * cell_w + 4, y0 + r * cell_h + (cell_h - height) // 2,
                               height, cell_w - 8, text)

    def receipt(self, page, rng, regions) -> None:
        height, width = page.shape[:2]
        strip = int(width * rng.uniform(0.45, 0.7))
        x0 = int(rng.integers(0, width - strip + 1))
        page[:, x0:x0 + strip] = np.clip(page[:, x0:x0 + strip].astype(np.int16) + 30, 0, 255).astype(np.uint8)
        line = min(self.line_height_of(rng), 22)
        y = int(rng.integers(4, 24))
        self.write(page, rng, regions, x0 + strip // 2, y, int(line * 1.4), strip - 16, align="center")
        y += int(line * 2.4)
        while y + line < height - 8:
            self.write(page, rng, regions, x0 + 8, y, line, strip // 2, self.sampler.text(rng)[:14])
            amount = f"{rng.integers(0, 1000)}.{rng.integers(0, 100):02d}"
            self.write(page, rng, regions, x0 + strip - 8, y, line, strip // 3, amount, align="right")
            y += int(line * rng.uniform(1.4, 1.9))

    def label(self, page, rng, regions) -> None:
        height, width = page.shape[:2]
        pw, ph = int(width * rng.uniform(0.5, 0.9)), int(height * rng.uniform(0.3, 0.7))
        px, py = int(rng.integers(0, width - pw + 1)), int(rng.integers(0, height - ph + 1))
        page[py:py + ph, px:px + pw] = rng.integers(0, 256, 3)
        count = int(rng.integers(1, 4))
        line = max(self.line_height[0], min(int(ph / (count * 1.6)), 3 * self.line_height[1]))
        y = py + (ph - int(count * line * 1.5)) // 2
        for _ in range(count):
            self.write(page, rng, regions, px + pw // 2, y, line, pw - 16, self.sampler.text(rng)[:20],
                       align="center")
            y += int(line * 1.5)
