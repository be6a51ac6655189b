"""Synthetic text lines, rendered on the fly from fonts that need no download.

Fonts: Pillow's built-in scalable font, OpenCV's Hershey stroke fonts and every TrueType/OpenType file under a
configurable list of folders: by default the system font folders and the fonts that installed packages ship
(matplotlib: DejaVu, the Times-like STIX and Computer Modern; the Google Fonts families of the ``fontpkg-*``
packages lightocr depends on: serif, sans, slab, condensed and monospaced faces, most of them variable in weight
and width). A font is used for a line only when its character map has every symbol of the line (a missing glyph
would render as a box); a font that cannot be read is skipped, counted in one warning; a charset that no font
covers is an error naming the missing symbols. Each line has real words, a number, a random string or
pseudo-word, and a random font, size, weight and width, colours, kerning or letter spacing, and margins around
its ink. The symbols follow the run's charset (the data module hands it over): digits for
``digits``, punctuation and spaces for ``printable``, a dictionary file's own symbols. Case is a property of
the whole line (lower, Title or UPPER words; lower or UPPER random strings): random case inside a random string
would make ``l``/``I``/``1`` and ``o``/``O``/``0`` impossible to tell apart without context, which no reader of
real text faces. Distortions come from the dataset's augmentation (``lightocr.data.transforms``).

A line is a pure function of ``(seed, epoch, index)``: the same on every run, different for every index and
epoch, so DDP ranks and loader workers (which receive different indices) see different lines, every epoch
renders new ones, and a validation set with another seed never repeats a training line's draw.
"""
import fnmatch
import functools
import importlib.metadata
import importlib.util
import re
import string
import warnings
from pathlib import Path
from typing import FrozenSet, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import ConfigError
from ..textfiles import read_lines
from .backgrounds import BACKGROUNDS, background, page_ink
from .sources import Sample, SampleSource

BUILTIN_FONT = "builtin"
# OpenCV's Hershey stroke fonts (printable ASCII), upright and slanted; the two script faces are left out, as
# cursive is not what documents and signs are printed in
HERSHEY_FONTS = {f"hershey_{name.lower()}{'_italic' if italic else ''}": getattr(cv2, f"FONT_HERSHEY_{name}") | italic
                 for name in ("SIMPLEX", "PLAIN", "DUPLEX", "COMPLEX", "TRIPLEX", "COMPLEX_SMALL")
                 for italic in (0, cv2.FONT_ITALIC)}
# OpenCV 5 draws the FONT_HERSHEY_* faces with embedded outline fonts, not strokes, and its getTextSize measures
# them another way (lines 20-30% smaller): the Hershey family would be neither Hershey nor the size drawn
HERSHEY_STROKES = int(cv2.__version__.split(".")[0]) < 5
SYSTEM_FONT_DIRS: Tuple[str, ...] = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts",
                                     "~/.fonts", "/Library/Fonts", "C:/Windows/Fonts")
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
# fonts whose character map lies about letters: placeholder glyphs for every code point (LastResort), or TeX math
# symbols and math italic without spaces at the ASCII code points (Computer Modern's cmex, cmsy, cmmi; seen in a
# rendered grid of every font)
PLACEHOLDER_FONTS = ("LastResort*", "cmex10*", "cmsy10*", "cmmi10*")
# hairline weights, which fade into the background once blurred (seen in a rendered grid); the default exclusion
HAIRLINE_FONTS = ("*Thin*", "*Hairline*")
FLAT = "flat"  # a line on one colour (LineRenderer backgrounds)
# how a FontPool draws a line's font: every file equally often, or every family (then a file of it)
FONT_BALANCES = ("file", "family")
# families whose file names run on past the family name without a separator (DejaVuSansCondensed, cmr10)
RUN_ON_FAMILIES = ("DejaVuSansMono", "DejaVuSans", "DejaVuSerif", "DejaVuMath", "STIXGeneral", "cm", "hershey")


def font_family(font: str) -> str:
    """A font file's family: its name up to the style (``DejaVuSerifCondensed-Bold.ttf`` -> ``DejaVuSerif``,
    ``Roboto-Italic[wdth,wght].ttf`` -> ``Roboto``, ``hershey_duplex_italic`` -> ``hershey``)."""
    name = Path(font).stem
    for family in RUN_ON_FAMILIES:
        if name.startswith(family):
            return family
    return re.split(r"[-\[]", name)[0]


def package_font_dirs() -> List[str]:
    """Font folders that installed packages ship: matplotlib's (DejaVu, STIX, Computer Modern) and every Google
    Fonts family installed as a ``fontpkg-<family>`` package (found by their ``fontpkg.family`` entry points,
    without importing them); the families lightocr depends on are listed in its ``pyproject.toml``."""
    folders = []
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        folders.append(str(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"))
    for entry in sorted(importlib.metadata.entry_points(group="fontpkg.family"), key=lambda e: e.name):
        spec = importlib.util.find_spec(entry.value)
        if spec is not None and spec.submodule_search_locations:
            folders.append(str(Path(list(spec.submodule_search_locations)[0]) / "files"))
    return folders


DEFAULT_FONT_DIRS: Tuple[str, ...] = SYSTEM_FONT_DIRS + tuple(package_font_dirs())
_CONSONANTS = "bcdfghjklmnprstvwz"
_VOWELS = "aeiouy"


def find_fonts(
        font_dirs: Sequence[str] = DEFAULT_FONT_DIRS,
        builtin: bool = True,
        include: Optional[Sequence[str]] = None,
        exclude: Optional[Sequence[str]] = None,
        hershey: bool = True,
) -> List[str]:
    """Font files under ``font_dirs`` (recursively; one file per file name, the first found), filtered by
    file-name patterns, plus Pillow's built-in font and OpenCV's Hershey fonts; placeholder fonts are left out.

    ``include`` keeps only the fonts whose file name is one of its entries or matches it as a pattern (``builtin``
    names the built-in font, ``hershey_*`` the Hershey fonts; a variable font's name such as ``Roboto[wght].ttf``
    matches itself, though ``[wght]`` is a character class to ``fnmatch``); ``exclude`` then removes matches.
    Folders that do not exist are skipped.
    """
    found = {}
    for folder in font_dirs:
        root = Path(folder).expanduser()
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in FONT_SUFFIXES):
                found.setdefault(path.name, str(path))
    if hershey and not HERSHEY_STROKES:
        warnings.warn(f"OpenCV {cv2.__version__} has no Hershey stroke fonts, so the synthetic text's Hershey family "
                      "would be OpenCV's outline fonts: install opencv-python-headless<5 (lightocr's requirement, "
                      "which another package overrode) or set hershey_fonts: false", stacklevel=2)
    fonts = ([BUILTIN_FONT] if builtin else []) + (list(HERSHEY_FONTS) if hershey else []) + \
        [found[name] for name in sorted(found)]

    def matches(font: str, patterns: Sequence[str]) -> bool:  # a file name also matches itself: Roboto[wght].ttf
        name = Path(font).name
        return any(name == pattern or fnmatch.fnmatch(name, pattern) for pattern in patterns)

    if include is not None:
        fonts = [f for f in fonts if matches(f, include)]
    fonts = [f for f in fonts if not matches(f, tuple(exclude or ()) + PLACEHOLDER_FONTS)]
    if not fonts:
        raise ConfigError(f"no font found (folders {list(font_dirs)}, builtin={builtin}, include={include}, "
                         f"exclude={exclude})")
    return fonts


@functools.lru_cache(maxsize=None)
def font_symbols(font: str) -> FrozenSet[str]:
    """The characters a font has glyphs for (its character map); Pillow's built-in font covers printable ASCII."""
    if font == BUILTIN_FONT or font in HERSHEY_FONTS:
        return frozenset(string.printable)
    from fontTools.ttLib import TTFont
    with TTFont(font, lazy=True, fontNumber=0) as face:
        return frozenset(chr(code) for code in (face.getBestCmap() or {}))


def usable_fonts(fonts: Sequence[str]) -> List[str]:
    """The fonts that load and have a character map; the others are skipped, counted in one warning."""
    usable, failed = [], []
    for font in fonts:
        try:
            load_font(font, 20)
            if font_symbols(font):
                usable.append(font)
                continue
        except Exception as error:  # fontTools and FreeType raise many kinds for broken files
            failed.append(f"{font} ({type(error).__name__})")
            continue
        failed.append(f"{font} (no character map)")
    if failed:
        warnings.warn(f"skipped {len(failed)} font file(s) that cannot be used: {', '.join(failed[:3])}"
                      f"{' ...' if len(failed) > 3 else ''}", stacklevel=2)
    return usable


@functools.lru_cache(maxsize=512)
def load_font(font: str, size: int) -> Optional[ImageFont.FreeTypeFont]:
    """A FreeType font at a size; None for a Hershey font (OpenCV draws those)."""
    if font in HERSHEY_FONTS:
        return None
    if font == BUILTIN_FONT:
        return ImageFont.load_default(size)
    return ImageFont.truetype(font, size)


@functools.lru_cache(maxsize=None)
def variation_axes(font: str) -> Tuple[dict, ...]:
    """The axes of a variable font (Pillow's ``get_variation_axes``); empty for a static one."""
    loaded = load_font(font, 20)
    try:
        return tuple(loaded.get_variation_axes()) if loaded is not None else ()
    except OSError:  # FreeType's answer for a font without variations
        return ()


def vary_font(font: str, loaded: ImageFont.FreeTypeFont, rng: np.random.Generator) -> None:
    """Set a random weight (300 to 800) and width (75% to 100%) on a variable font, within its own ranges;
    other axes (optical size) keep their defaults."""
    axes = variation_axes(font)
    if not axes:
        return
    wanted = {b"Weight": (300, 800), b"Width": (75, 100)}
    values = []
    for axis in axes:
        low, high = wanted.get(axis["name"], (axis["default"], axis["default"]))
        low, high = max(low, axis["minimum"]), min(high, axis["maximum"])
        values.append(float(rng.uniform(low, high)) if low < high else axis["default"])
    loaded.set_variation_by_axes(values)


def draw_text_mask(font: str, size: int, text: str, spacing: int, rng: np.random.Generator
                   ) -> Tuple[Image.Image, Tuple[int, int]]:
    """The text drawn white on black with generous margins (an ``L`` image), whole when ``spacing`` is 0 (with
    the font's kerning) or glyph by glyph; and the top and bottom of the font's cap-to-descender box (``Hg``)."""
    loaded = load_font(font, size)
    margin = size
    if loaded is None:  # Hershey: OpenCV draws whole strings at a scale, with a stroke thickness
        face = HERSHEY_FONTS[font]
        (_, cap), _ = cv2.getTextSize("H", face, 1.0, 1)
        scale, thickness = 0.7 * size / cap, int(rng.integers(1, max(1, size // 12) + 1))
        (width, cap), descent = cv2.getTextSize(text, face, scale, thickness)
        canvas = np.zeros((cap + descent + 2 * margin, width + 2 * margin), np.uint8)
        cv2.putText(canvas, text, (margin, margin + cap), face, scale, 255, thickness, cv2.LINE_AA)
        return Image.fromarray(canvas), (margin, margin + cap + descent)
    vary_font(font, loaded, rng)
    advances = [loaded.getlength(c) for c in text] if spacing else [loaded.getlength(text)]
    ascent, descent = loaded.getmetrics()
    stroke = 1 if size >= 28 and rng.random() < 0.15 else 0  # a bolder stroke now and then
    width = int(np.ceil(sum(advances) + spacing * (len(advances) - 1)))
    mask = Image.new("L", (width + 2 * margin, ascent + descent + 2 * margin), 0)
    draw = ImageDraw.Draw(mask)
    x = float(margin)
    for piece, advance in zip(text if spacing else [text], advances):
        draw.text((x, margin), piece, font=loaded, fill=255, stroke_width=stroke, stroke_fill=255)
        x += advance + spacing
    _, top, _, bottom = draw.textbbox((margin, margin), "Hg", font=loaded)
    return mask, (top, bottom)


def line_alphabet(symbols: Sequence[str], case_sensitive: bool) -> str:
    """The symbols random strings are drawn from: the charset's, with an upper-case letter left out when its
    lower case is there (the case of a whole line is drawn separately)."""
    present = set(symbols)
    return "".join(s for s in symbols if not (case_sensitive and s.isupper() and s.lower() in present))


@functools.lru_cache(maxsize=8)
def load_lexicon(spec: str) -> Tuple[str, ...]:
    """Words, most frequent first: ``wordfreq:<language>`` (the ``wordfreq`` package's 50,000 most frequent), or
    a UTF-8 file of one word per line (its order taken as the frequency order)."""
    if spec.startswith("wordfreq:"):
        import wordfreq
        words = wordfreq.top_n_list(spec.split(":", 1)[1], 50_000)
    else:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"lexicon file not found: {spec}")
        words = [line.split("\t")[0].strip() for line in read_lines(path, "word list")]
    words = tuple(w for w in words if w and not w.isspace())
    if not words:
        raise ValueError(f"lexicon {spec} has no words")
    return words


def number_line(rng: np.random.Generator, alphabet: str) -> str:
    """A number in a form real text has it: a year, an amount, a price, a code, a date or a phone number; the
    forms whose symbols the alphabet lacks are left out."""
    digits = lambda n: "".join(str(int(d)) for d in rng.integers(0, 10, n))  # noqa: E731
    letters = [c for c in "ABCDEFGHJKLMNPRSTUVWXYZ" if c in alphabet or c.lower() in alphabet]
    forms = [lambda: str(int(rng.integers(1900, 2031))), lambda: str(int(rng.integers(0, 10 ** int(rng.integers(1, 7)))))]
    if "." in alphabet:
        forms.append(lambda: f"{int(rng.integers(0, 1000))}.{digits(2)}")
        if "$" in alphabet:
            forms.append(lambda: f"${int(rng.integers(1, 1000))}.{digits(2)}")
    if letters:
        forms.append(lambda: "".join(rng.choice(letters, int(rng.integers(1, 4)))) + digits(int(rng.integers(2, 5))))
    if "/" in alphabet:
        forms.append(lambda: f"{int(rng.integers(1, 13)):02d}/{int(rng.integers(1, 29)):02d}/{int(rng.integers(1990, 2031))}")
    if "-" in alphabet:
        forms.append(lambda: f"{digits(3)}-{digits(4)}")
    text = forms[int(rng.integers(len(forms)))]()
    return text if all(c in alphabet or c.lower() in alphabet for c in text) else digits(len(text))


class FontPool:
    """The fonts lines are drawn in: ``find_fonts``'s choice (``font_dirs``, ``builtin_font``, ``font_include``,
    ``font_exclude``, ``hershey_fonts``; the hairline weights are excluded unless ``font_exclude`` says
    otherwise), those that load. A line is drawn only in a font that has every one of its symbols. ``balance``:
    ``file`` draws every such font file equally often; ``family`` every family (``font_family``) equally often,
    then a file of it, so that a family of 16 static files (Lato) is not drawn 16 times as often as a variable
    font's single file (Oswald)."""

    def __init__(self, font_dirs: Sequence[str] = DEFAULT_FONT_DIRS, builtin_font: bool = True,
                 font_include: Optional[Sequence[str]] = None,
                 font_exclude: Optional[Sequence[str]] = HAIRLINE_FONTS, hershey_fonts: bool = True,
                 balance: str = "file"):
        if balance not in FONT_BALANCES:
            raise ConfigError(f"font balance must be one of {list(FONT_BALANCES)}, got {balance!r}")
        self.fonts = usable_fonts(find_fonts(font_dirs, builtin_font, font_include, font_exclude, hershey_fonts))
        if not self.fonts:
            raise ConfigError(f"no usable font in {list(font_dirs)} (builtin={builtin_font}, include={font_include}, "
                              f"exclude={font_exclude})")
        self.balance, self.family = balance, {font: font_family(font) for font in self.fonts}

    def __len__(self) -> int:
        return len(self.fonts)

    def fonts_for(self, text: str) -> List[str]:
        """The fonts that have a glyph for every symbol of ``text`` (its spaces too)."""
        symbols = set(text)
        return [font for font in self.fonts if symbols <= font_symbols(font)]

    def pick(self, text: str, rng: np.random.Generator) -> str:
        """A random font of ``fonts_for(text)``, drawn as ``balance`` says."""
        fonts = self.fonts_for(text)
        if not fonts:
            raise ValueError(f"no font has every symbol of {text!r}")
        if self.balance == "family":
            families = sorted({self.family[font] for font in fonts})
            family = families[int(rng.integers(len(families)))]
            fonts = [font for font in fonts if self.family[font] == family]
        return fonts[int(rng.integers(len(fonts)))]

    def check_symbols(self, symbols: Iterable[str], what: str) -> None:
        """``ConfigError`` naming the symbols (spaces aside) that no font of the pool has."""
        covered = frozenset().union(*map(font_symbols, self.fonts))
        missing = sorted(c for c in set(symbols) - covered if not c.isspace())
        if missing:
            raise ConfigError(f"no font of {what} has the symbols {''.join(missing)!r}: add a folder of fonts that "
                              f"has them (font_dirs), or leave them out of the charset")


class TextSampler:
    """The text of a line, drawn from a random generator: real words (``lexicon``), numbers in real forms,
    pronounceable pseudo-words or random strings of ``alphabet``, in the case patterns of real text.

    Args:
        alphabet: symbols of the random strings; None follows the run's charset (``use_charset``, with
            ``line_alphabet``), or the 36 lower-case letters and digits outside a data module. Pseudo-words are
            made when it holds the Latin lower-case letters, and spaces join words and split strings when it holds
            a space.
        min_length, max_length: characters per line.
        word_ratio: share of pronounceable pseudo-words among the lines that are neither lexicon words nor numbers
            (the rest are random strings, for codes and plates).
        upper_ratio: share of lines in upper case (and a quarter of that share of the words in Title case), where
            the charset has the upper-case letters (or folds case).
        lexicon: where real words come from: ``wordfreq:<language>`` (the ``wordfreq`` package) or a word-list
            file (one word per line, most frequent first); None: no real words.
        lexicon_ratio: share of lines of real words (by frequency, with doubled letters as real words have them,
            in lower, Title, UPPER case and the odd inner capital), where the alphabet can write them.
        number_ratio: share of lines that are numbers in real forms (years, amounts, prices, codes, dates).
        word_stop: the chance that a line of real words ends after each word before it reaches its length (where
            the alphabet has a space): high for single words, as scene text has them, low for the running lines
            of a document.
        punctuation_ratio: the share of real words given punctuation, as running text has it (a comma or full
            stop after, quotes or brackets around, an apostrophe-s, a hyphen to the next word), with the line
            starting in capital now and then: the marks the alphabet has.
        fonts: the pool the lines will be drawn in: every symbol the sampler may write must have a font.
        name: how errors name the source it samples for.
    """

    def __init__(self, alphabet: Optional[str] = None, min_length: int = 1, max_length: int = 12,
                 word_ratio: float = 0.5, upper_ratio: float = 0.25, lexicon: Optional[str] = "wordfreq:en",
                 lexicon_ratio: float = 0.6, number_ratio: float = 0.1, word_stop: float = 0.5,
                 punctuation_ratio: float = 0.0, fonts: Optional[FontPool] = None, name: str = "synthetic text"):
        if not 1 <= min_length <= max_length:
            raise ValueError(f"{name}: need 1 <= min_length <= max_length, got {min_length}, {max_length}")
        if alphabet is not None and not alphabet.strip():
            raise ValueError(f"{name}: alphabet is empty")
        if lexicon_ratio < 0 or number_ratio < 0 or lexicon_ratio + number_ratio > 1:
            raise ValueError(f"{name}: lexicon_ratio and number_ratio are shares of the lines (sum at most 1), got "
                             f"{lexicon_ratio} and {number_ratio}")
        self.follows_charset = alphabet is None
        self.min_length, self.max_length = min_length, max_length
        self.word_ratio, self.upper_ratio = word_ratio, upper_ratio
        self.lexicon, self.lexicon_ratio, self.number_ratio = lexicon, lexicon_ratio, number_ratio
        if not (0 <= word_stop <= 1 and 0 <= punctuation_ratio <= 1):
            raise ValueError(f"{name}: word_stop and punctuation_ratio are chances in [0, 1], got {word_stop} and "
                             f"{punctuation_ratio}")
        self.word_stop, self.punctuation_ratio = word_stop, punctuation_ratio
        self.fonts, self.name = fonts or FontPool(), name
        self.set_alphabet(alphabet or string.digits + string.ascii_lowercase, uppercase=True)

    def set_alphabet(self, alphabet: str, uppercase: bool) -> None:
        # the characters upper-casing writes (German ß becomes "SS")
        needed = set(alphabet) | ({u for c in alphabet for u in c.upper()} if uppercase else set())
        self.fonts.check_symbols(needed, self.name)
        self.alphabet = alphabet
        self._words = set(_CONSONANTS + _VOWELS) <= set(alphabet)
        self._uppercase = uppercase
        self._digits = set(string.digits) <= set(alphabet)
        self._lexicon = self._lexicon_for(alphabet) if self.lexicon and self.lexicon_ratio > 0 else None

    def _lexicon_for(self, alphabet: str) -> Optional[Tuple[List[str], np.ndarray]]:  # words, cumulative weights
        """The lexicon's words written in the alphabet (case folded where the alphabet is lower case), with
        rank-based weights that flatten Zipf's law: frequent words often, rare ones too."""
        present = set(alphabet)
        words = [w for w in load_lexicon(self.lexicon)
                 if set(w) <= present or (self._uppercase and set(w.lower()) <= present)]
        words = [w if set(w) <= present else w.lower() for w in words]
        if not words:
            return None
        weights = 1.0 / (np.arange(len(words)) + 20.0) ** 0.5
        return words, np.cumsum(weights / weights.sum())

    def use_charset(self, symbols: Sequence[str], case_sensitive: bool) -> None:
        """Follow the run's charset (when ``alphabet`` was None)."""
        if self.follows_charset:
            present = set(symbols)
            # upper-case lines only where the charset folds case or has every upper-case letter of its own
            uppercase = not case_sensitive or all(s.upper() in present for s in symbols if s.islower())
            self.set_alphabet(line_alphabet(symbols, case_sensitive), uppercase)

    def text(self, rng: np.random.Generator) -> str:
        length = int(rng.integers(self.min_length, self.max_length + 1))
        kind = rng.random()
        if kind < self.lexicon_ratio and self._lexicon:
            return self.lexicon_line(rng, length)
        if kind < self.lexicon_ratio + self.number_ratio and self._digits:
            return number_line(rng, self.alphabet)[:self.max_length]
        style = rng.random()  # below upper_ratio: UPPER; in the next quarter of that share: Title (words only)
        if self._words and rng.random() < self.word_ratio:
            pairs = (rng.choice(list(_CONSONANTS)) + rng.choice(list(_VOWELS)) for _ in range((length + 1) // 2))
            text = "".join(pairs)[:length]
            if " " in self.alphabet and length > 4 and rng.random() < 0.3:  # two words
                cut = int(rng.integers(2, length - 1))
                text = text[:cut] + " " + text[cut + 1:]
            if self._uppercase and self.upper_ratio <= style < 1.25 * self.upper_ratio:
                text = text.title()
        else:
            text = "".join(rng.choice(list(self.alphabet), size=length))
        text = " ".join(text.split()) or str(rng.choice([c for c in self.alphabet if c != " "]))
        return text.upper() if self._uppercase and style < self.upper_ratio else text

    def lexicon_line(self, rng: np.random.Generator, length: int) -> str:
        """Real words by frequency (rank-weighted, so that rarer words come too), joined by spaces where the
        alphabet has one, up to ``length`` characters, some with punctuation (``punctuation_ratio``); in the case
        patterns of real text."""
        words, cumulative = self._lexicon
        text = ""
        while True:
            word = words[min(int(np.searchsorted(cumulative, rng.random())), len(words) - 1)]
            if self.punctuation_ratio and rng.random() < self.punctuation_ratio:  # no draw when off: the same lines
                word = self.punctuated(word, rng)
            candidate = f"{text} {word}" if text else word
            if len(candidate) > max(length, len(word) if not text else 0) or (text and " " not in self.alphabet):
                break
            text = candidate
            if rng.random() < self.word_stop:
                break
        text = text[:self.max_length] or word[:self.max_length]
        if not self._uppercase:
            return text
        pattern = rng.random()  # lower, Title, UPPER, or one odd capital (iPhone, eBay); sentence case
        if self.punctuation_ratio and pattern >= 0.6:
            return text[0].upper() + text[1:]
        if pattern < 0.25:
            return text.title()
        if pattern < 0.37:
            return text.upper()
        if pattern < 0.40:
            position = int(rng.integers(len(text)))
            return text[:position] + text[position].upper() + text[position + 1:]
        return text


    def punctuated(self, word: str, rng: np.random.Generator) -> str:
        """``word`` with one of the punctuations running text gives words, among those the alphabet has."""
        forms = [form for form in PUNCTUATION if all(c in self.alphabet for c in form.replace("w", ""))]
        if not forms:
            return word
        return forms[int(rng.integers(len(forms)))].replace("w", word, 1)


# how running text punctuates a word ("w"), each equally often
PUNCTUATION = ("w,", "w.", "w;", "w:", "w?", "w!", "w's", "(w)", '"w"', "'w'", "w-", "w),", "w.\"", "w...")


class LineRenderer:
    """A text line drawn in a random font of ``fonts``, size in ``font_size`` (pixels, before the line is scaled
    to the model's height), weight, width, spacing and colours. ``font_box_ratio``: share of the lines whose height
    spans the font's cap-to-descender box (with the ink); the others are cropped to their ink alone.
    ``backgrounds``: what lines are drawn on, each kind equally often: ``flat`` (one colour) or a page background
    of ``lightocr.data.backgrounds`` (paper, texture, noise...), as a page reader's crops show them."""

    def __init__(self, fonts: FontPool, font_size: Tuple[int, int] = (22, 40), font_box_ratio: float = 0.5,
                 backgrounds: Sequence[str] = (FLAT,)):
        if not 0 <= font_box_ratio <= 1:
            raise ValueError(f"font_box_ratio is a share, got {font_box_ratio}")
        unknown = sorted(set(backgrounds) - {FLAT, *BACKGROUNDS})
        if unknown or not backgrounds:
            raise ValueError(f"backgrounds must be some of {[FLAT, *BACKGROUNDS]}, got {list(backgrounds)}")
        self.fonts, self.font_size, self.font_box_ratio = fonts, font_size, font_box_ratio
        self.backgrounds = tuple(backgrounds)

    def render(self, text: str, rng: np.random.Generator) -> Image.Image:
        """The line (``ink``) in random colours, legible in colour and in grayscale."""
        mask = self.ink(text, rng)
        kind = FLAT if self.backgrounds == (FLAT,) else self.backgrounds[int(rng.integers(len(self.backgrounds)))]
        if kind == FLAT:
            colour = rng.integers(0, 256, 3)
            image = Image.new("RGB", mask.size, tuple(int(v) for v in colour))
            image.paste(tuple(int(v) for v in legible_ink(colour, rng)), mask=mask)
            return image
        page = background(rng, mask.height, mask.width, [kind]).astype(np.float32)
        alpha = np.asarray(mask, np.float32)[..., None] / 255
        return Image.fromarray((page * (1 - alpha) + page_ink(page, rng) * alpha).astype(np.uint8))

    def ink(self, text: str, rng: np.random.Generator) -> Image.Image:
        """The line's ink (an ``L`` mask) in a random font, size, weight and width (variable fonts) and spacing,
        cropped around it with random margins. Its vertical extent is the ink of the line, or, for a share
        ``font_box_ratio`` of the lines, also the font's cap-to-descender box as a line detector sees it; never
        the font's declared line height (which differs by a third between fonts)."""
        font = self.fonts.pick(text, rng)
        size = int(rng.integers(self.font_size[0], self.font_size[1] + 1))
        # half the lines whole, with the font's kerning; the others glyph by glyph with a letter spacing
        spacing = 0 if rng.random() < 0.5 else int(rng.integers(-1, max(1, size // 6) + 1))
        mask, (ref_top, ref_bottom) = draw_text_mask(font, size, text, spacing, rng)
        left, top, right, bottom = mask.getbbox() or (0, 0, mask.width, mask.height)
        if rng.random() < self.font_box_ratio:
            top, bottom = min(top, ref_top), max(bottom, ref_bottom)
        ink = max(1, bottom - top)
        pad_x, pad_top, pad_bottom = (int(rng.integers(1, ink // 2 + 2)), int(rng.integers(0, ink // 4 + 1)),
                                      int(rng.integers(0, ink // 4 + 1)))
        return mask.crop((left - pad_x, top - pad_top, right + pad_x, bottom + pad_bottom))


def legible_ink(under: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random ink colour that differs from the colour ``under`` it by at least 80 in luminance (ITU-R 601, as
    Pillow's grayscale conversion), so that the line stays legible in grayscale."""
    ink = rng.integers(0, 256, 3)
    luma = np.array([0.299, 0.587, 0.114])
    if abs(float(luma @ under) - float(luma @ ink)) < 80:
        ink = rng.integers(0, 50, 3) if luma @ under > 127 else rng.integers(205, 256, 3)
    return ink


class SyntheticTextSource(SampleSource):
    """Rendered text lines (see the module docstring): a ``TextSampler`` writes each line and a ``LineRenderer``
    draws it in a font of a ``FontPool``, all from one generator seeded by ``(seed, epoch, index)``.

    Args:
        size: lines per epoch (the index range).
        seed: base seed; use different seeds for training and validation.
        alphabet, min_length, max_length, word_ratio, upper_ratio, lexicon, lexicon_ratio, number_ratio,
            word_stop, punctuation_ratio: the text (``TextSampler``).
        font_dirs, builtin_font, font_include, font_exclude, hershey_fonts, font_balance: the fonts (``FontPool``
            and its ``balance``).
        font_size, font_box_ratio, backgrounds: the drawing (``LineRenderer``).
    """

    def __init__(
            self,
            size: int = 100_000,
            seed: int = 0,
            alphabet: Optional[str] = None,
            min_length: int = 1,
            max_length: int = 12,
            word_ratio: float = 0.5,
            upper_ratio: float = 0.25,
            lexicon: Optional[str] = "wordfreq:en",
            lexicon_ratio: float = 0.6,
            number_ratio: float = 0.1,
            word_stop: float = 0.5,
            punctuation_ratio: float = 0.0,
            font_dirs: Sequence[str] = DEFAULT_FONT_DIRS,
            builtin_font: bool = True,
            font_include: Optional[Sequence[str]] = None,
            font_exclude: Optional[Sequence[str]] = HAIRLINE_FONTS,
            hershey_fonts: bool = True,
            font_balance: str = "file",
            font_size: Tuple[int, int] = (22, 40),
            font_box_ratio: float = 0.5,
            backgrounds: Sequence[str] = (FLAT,),
            ratio: float = 1.0,
            name: Optional[str] = None,
    ):
        super().__init__(ratio, name)
        if size < 1:
            raise ValueError(f"SyntheticTextSource: size must be positive, got {size}")
        self.size, self.seed = size, seed
        self.font_pool = FontPool(font_dirs, builtin_font, font_include, font_exclude, hershey_fonts, font_balance)
        self.sampler = TextSampler(alphabet, min_length, max_length, word_ratio, upper_ratio, lexicon, lexicon_ratio,
                                   number_ratio, word_stop, punctuation_ratio, self.font_pool, self.describe())
        self.renderer = LineRenderer(self.font_pool, font_size, font_box_ratio, backgrounds)

    def default_name(self) -> str:
        return "synthetic"

    def use_charset(self, symbols: Sequence[str], case_sensitive: bool) -> None:
        self.sampler.use_charset(symbols, case_sensitive)

    def __len__(self) -> int:
        return self.size

    def load(self, index: int, epoch: int = 0) -> Sample:
        if not 0 <= index < self.size:
            raise IndexError(f"synthetic index {index} outside 0..{self.size - 1}")
        rng = np.random.default_rng([self.seed, epoch, index])
        text = self.sampler.text(rng)
        return self.renderer.render(text, rng), text, self.key(index, epoch)

    def key(self, index: int, epoch: int = 0) -> str:
        return f"synthetic(seed={self.seed}, epoch={epoch}):{index}"

    def describe(self) -> str:
        return f"synthetic text ({self.size} lines, seed {self.seed}, {len(self.font_pool)} fonts)"
