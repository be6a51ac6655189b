"""Text files a user writes (label files, charset dictionaries, word lists): UTF-8, with or without a BOM."""
from pathlib import Path
from typing import List, Union

from .errors import DataError


def read_lines(path: Union[str, Path], what: str = "text file") -> List[str]:
    """The lines of a UTF-8 file, a leading byte-order mark dropped (Windows editors write one, and it would
    otherwise stick to the first line). A file that is not UTF-8 raises ``DataError`` naming the file, the line
    and the byte."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        pass
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    for number, line in enumerate(data[start:].split(b"\n"), 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(f"{what} {path}, line {number}: not UTF-8 (byte 0x{line[error.start]:02x} at column "
                            f"{error.start + 1}); save the file as UTF-8") from None
    raise DataError(f"{what} {path} is not UTF-8; save it as UTF-8")
