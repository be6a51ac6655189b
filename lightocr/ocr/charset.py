"""The character set: symbols, their CTC indices (blank is 0) and the policy for labels that do not fit.

One ``Charset`` is built by the data side and its symbols are handed to the model (LightningCLI links them),
so that training data, the CTC head width, decoding and the saved checkpoint always agree.
"""
from __future__ import annotations

import string
import unicodedata
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Union

from ..textfiles import read_lines

PRESETS: Dict[str, str] = {
    "digits": string.digits,
    # the 36-symbol protocol of the scene-text benchmarks (case-insensitive letters and digits)
    "alnum36": string.digits + string.ascii_lowercase,
    "alnum62": string.digits + string.ascii_lowercase + string.ascii_uppercase,
    "printable": string.digits + string.ascii_letters + string.punctuation + " ",
}
BLANK = 0


class UnknownSymbolError(ValueError):
    """A label holds symbols outside the charset."""


class Charset:
    """Ordered symbols; index 0 is the CTC blank, symbol ``i`` has index ``i + 1``.

    Args:
        symbols: the symbols, in order (a string or a list of one-symbol strings; no duplicates).
        case_sensitive: when False, labels are lowercased before encoding (the symbols must then be lowercase).
    """

    def __init__(self, symbols: Union[str, Sequence[str]], case_sensitive: bool = True):
        symbols = list(symbols)
        if not symbols:
            raise ValueError("a charset needs at least one symbol")
        duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
        if duplicates:
            raise ValueError(f"charset symbols must be unique; repeated: {duplicates[:10]}")
        if not case_sensitive and any(s != s.lower() for s in symbols):
            raise ValueError("a case-insensitive charset holds lowercase symbols only")
        self.symbols: List[str] = symbols
        self.case_sensitive = case_sensitive
        self._index = {symbol: i + 1 for i, symbol in enumerate(symbols)}

    @classmethod
    def from_spec(cls, spec: str, case_sensitive: Optional[bool] = None) -> "Charset":
        """A preset name (``digits``, ``alnum36``, ``alnum62``, ``printable``) or a dictionary file path.

        A dictionary file has one symbol per line, UTF-8 (any script). ``alnum36`` is case-insensitive unless
        ``case_sensitive`` says otherwise; everything else defaults to case-sensitive.
        """
        if spec in PRESETS:
            sensitive = spec != "alnum36" if case_sensitive is None else case_sensitive
            return cls(PRESETS[spec], case_sensitive=sensitive)
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"charset {spec!r} is neither a preset ({', '.join(PRESETS)}) nor an existing file")
        return cls(read_dictionary(path), case_sensitive=True if case_sensitive is None else case_sensitive)

    @property
    def num_classes(self) -> int:
        """CTC classes: the symbols plus the blank."""
        return len(self.symbols) + 1

    def __len__(self) -> int:
        return len(self.symbols)

    def normalize(self, label: str) -> str:
        label = unicodedata.normalize("NFC", label)
        return label if self.case_sensitive else label.lower()

    def unknown(self, label: str) -> List[str]:
        """Symbols of ``label`` (after normalization) that the charset lacks."""
        return sorted({s for s in self.normalize(label) if s not in self._index})

    def encode(self, label: str) -> List[int]:
        """Indices of ``label``'s symbols; ``UnknownSymbolError`` names the symbols that are not in the charset."""
        label = self.normalize(label)
        try:
            return [self._index[s] for s in label]
        except KeyError:
            raise UnknownSymbolError(f"label {label!r} has symbols outside the charset: {self.unknown(label)}") from None

    def decode(self, indices: Iterable[int]) -> str:
        """Symbols of already-collapsed indices (blanks are skipped)."""
        return "".join(self.symbols[i - 1] for i in indices if i != BLANK)


def read_dictionary(path: Union[str, Path]) -> List[str]:
    """One symbol per line (UTF-8, a BOM dropped); a line holding a single space is the space symbol; empty lines
    are skipped."""
    symbols = []
    for number, line in enumerate(read_lines(path, "charset file"), 1):
        symbol = line if line == " " else line.strip()
        if not symbol:
            continue
        if len(symbol) != 1:
            raise ValueError(f"{path}:{number}: one symbol per line expected, got {symbol!r}")
        symbols.append(symbol)
    return symbols
