"""Synthetic text lines, rendered on the fly from fonts that need no download.

Fonts: Pillow's built-in scalable font and every TrueType/OpenType file under a configurable list of folders
(system font folders by default). Each line has a random string or pseudo-word, font, size, colours, letter
spacing and margins. Case is a property of the whole line (lower, Title or UPPER words; lower or UPPER random
strings): random case inside a random string would make ``l``/``I``/``1`` and ``o``/``O``/``0`` impossible
to tell apart without context, which no reader of real text faces. Then then albumentations adds small rotation, shear, perspective, blur, noise and contrast
changes. A line is a pure function of ``(seed, index)``: the same on every run, different for every index, so
DDP ranks and loader workers (which receive different indices) see different lines, and a validation set
with another seed never repeats a training line's draw.
"""
from __future__ import annotations

import fnmatch
import functools
import string
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import albumentations as A
import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .sources import Sample, TextSource

BUILTIN_FONT = "builtin"
DEFAULT_FONT_DIRS: Tuple[str, ...] = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts",
                                      "~/.fonts", "/Library/Fonts", "C:/Windows/Fonts")
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
_CONSONANTS = "bcdfghjklmnprstvwz"
_VOWELS = "aeiouy"


def find_fonts(
        font_dirs: Sequence[str] = DEFAULT_FONT_DIRS,
        builtin: bool = True,
        include: Optional[Sequence[str]] = None,
        exclude: Optional[Sequence[str]] = None,
) -> List[str]:
    """Font files under ``font_dirs`` (recursively), filtered by file-name patterns, plus Pillow's built-in font.

    ``include`` keeps only the fonts whose file name matches one of its patterns (``builtin`` names the
    built-in font); ``exclude`` then removes matches. Folders that do not exist are skipped.
    """
    fonts = [BUILTIN_FONT] if builtin else []
    for folder in font_dirs:
        root = Path(folder).expanduser()
        if root.is_dir():
            fonts.extend(sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in FONT_SUFFIXES))

    def matches(font: str, patterns: Sequence[str]) -> bool:
        return any(fnmatch.fnmatch(Path(font).name, pattern) for pattern in patterns)

    if include is not None:
        fonts = [f for f in fonts if matches(f, include)]
    if exclude:
        fonts = [f for f in fonts if not matches(f, exclude)]
    if not fonts:
        raise ValueError(f"no font found (folders {list(font_dirs)}, builtin={builtin}, include={include}, "
                         f"exclude={exclude})")
    return fonts


@functools.lru_cache(maxsize=512)
def load_font(font: str, size: int) -> ImageFont.FreeTypeFont:
    if font == BUILTIN_FONT:
        return ImageFont.load_default(size)
    return ImageFont.truetype(font, size)


def default_augment() -> A.Compose:
    """Geometric and photometric distortions of a rendered line (small, so the text stays readable)."""
    border = dict(border_mode=cv2.BORDER_REPLICATE)
    return A.Compose([
        A.Affine(rotate=(-3, 3), shear={"x": (-12, 12), "y": (-2, 2)}, scale=(0.95, 1.05), fit_output=True,
                 p=0.6, **border),
        A.Perspective(scale=(0.01, 0.04), fit_output=True, p=0.3, **border),
        A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 5))], p=0.3),
        A.GaussNoise(std_range=(0.02, 0.08), p=0.3),
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.3, p=0.3),
        A.ImageCompression(quality_range=(40, 95), p=0.2),
    ])


class SyntheticTextSource(TextSource):
    """Rendered text lines; see the module docstring.

    Args:
        size: lines per epoch (the index range).
        seed: base seed; use different seeds for training and validation.
        alphabet: symbols of the random strings (pseudo-words use lowercase letters); the letters should be of
            one case, since ``upper_ratio`` sets the case of whole lines.
        upper_ratio: share of lines in upper case (and a quarter of that share of the words in Title case).
        min_length, max_length: characters per line.
        word_ratio: share of pronounceable pseudo-words among the lines (the rest are random strings).
        font_dirs, builtin_font, font_include, font_exclude: which fonts (see ``find_fonts``).
        font_size: range of the font size in pixels before the line is scaled to the model's height.
        augment: apply ``default_augment``.
    """

    def __init__(
            self,
            size: int = 100_000,
            seed: int = 0,
            alphabet: str = string.digits + string.ascii_lowercase,
            min_length: int = 1,
            max_length: int = 12,
            word_ratio: float = 0.5,
            upper_ratio: float = 0.25,
            font_dirs: Sequence[str] = DEFAULT_FONT_DIRS,
            builtin_font: bool = True,
            font_include: Optional[Sequence[str]] = None,
            font_exclude: Optional[Sequence[str]] = None,
            font_size: Tuple[int, int] = (22, 40),
            augment: bool = True,
            ratio: float = 1.0,
    ):
        super().__init__(ratio)
        if size < 1:
            raise ValueError(f"SyntheticTextSource: size must be positive, got {size}")
        if not 1 <= min_length <= max_length:
            raise ValueError(f"SyntheticTextSource: need 1 <= min_length <= max_length, got {min_length}, {max_length}")
        if not alphabet:
            raise ValueError("SyntheticTextSource: alphabet is empty")
        self.size, self.seed = size, seed
        self.alphabet = alphabet
        self.min_length, self.max_length = min_length, max_length
        self.word_ratio, self.upper_ratio = word_ratio, upper_ratio
        self.fonts = find_fonts(font_dirs, builtin_font, font_include, font_exclude)
        self.font_size = font_size
        self.augment = default_augment() if augment else None
        self._letters = any(c.isalpha() for c in alphabet)

    def __len__(self) -> int:
        return self.size

    def text(self, rng: np.random.Generator) -> str:
        length = int(rng.integers(self.min_length, self.max_length + 1))
        style = rng.random()  # below upper_ratio: UPPER; in the next quarter of that share: Title (words only)
        if self._letters and rng.random() < self.word_ratio:
            pairs = (rng.choice(list(_CONSONANTS)) + rng.choice(list(_VOWELS)) for _ in range((length + 1) // 2))
            text = "".join(pairs)[:length]
            if self.upper_ratio <= style < 1.25 * self.upper_ratio:
                text = text.capitalize()
        else:
            text = "".join(rng.choice(list(self.alphabet), size=length))
        return text.upper() if style < self.upper_ratio else text

    def render(self, text: str, rng: np.random.Generator) -> Image.Image:
        font = load_font(self.fonts[int(rng.integers(len(self.fonts)))],
                         int(rng.integers(self.font_size[0], self.font_size[1] + 1)))
        size = font.size
        spacing = int(rng.integers(-1, max(1, size // 6) + 1))
        advances = [font.getlength(c) for c in text]
        ascent, descent = font.getmetrics()
        pad_x, pad_top, pad_bottom = (int(rng.integers(1, size // 2 + 2)), int(rng.integers(0, size // 4 + 1)),
                                      int(rng.integers(0, size // 4 + 1)))
        width = int(np.ceil(sum(advances) + spacing * (len(text) - 1))) + 2 * pad_x
        height = ascent + descent + pad_top + pad_bottom
        background = rng.integers(0, 256, 3)
        foreground = rng.integers(0, 256, 3)
        if abs(int(background.mean()) - int(foreground.mean())) < 80:  # keep the text legible
            foreground = np.where(background.mean() > 127, rng.integers(0, 70, 3), rng.integers(185, 256, 3))
        image = Image.new("RGB", (max(width, 1), height), tuple(int(v) for v in background))
        draw = ImageDraw.Draw(image)
        x = float(pad_x)
        for char, advance in zip(text, advances):
            draw.text((x, pad_top), char, font=font, fill=tuple(int(v) for v in foreground))
            x += advance + spacing
        return image

    def load(self, index: int) -> Sample:
        if not 0 <= index < self.size:
            raise IndexError(f"synthetic index {index} outside 0..{self.size - 1}")
        rng = np.random.default_rng([self.seed, index])
        text = self.text(rng)
        image = self.render(text, rng)
        if self.augment is not None:
            self.augment.set_random_seed(int(rng.integers(2 ** 31)))
            image = Image.fromarray(self.augment(image=np.asarray(image))["image"])
        return image, text, f"synthetic(seed={self.seed}):{index}"

    def describe(self) -> str:
        return f"synthetic text ({self.size} lines, seed {self.seed}, {len(self.fonts)} fonts)"
