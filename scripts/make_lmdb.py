#!/usr/bin/env python
"""Convert a label-file dataset (``relative/path<TAB>label`` lines, PaddleOCR's format) to an LMDB in the format
of the public scene-text releases: ``num-samples``, ``image-%09d`` (the original encoded bytes), ``label-%09d``,
numbered from 1.

Images that are missing or do not decode are left out and listed (``--strict`` stops at the first instead).

    python scripts/make_lmdb.py LABEL_FILE OUTPUT_DIR [--root IMAGE_ROOT] [--strict]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lmdb

from lightocr.data.sources import LabelFileSource, decode_image, open_image


def convert(label_file: str, output: str, root: str = None, strict: bool = False, map_size: int = 2 ** 40) -> dict:
    source = LabelFileSource(label_file, root=root)
    Path(output).mkdir(parents=True, exist_ok=True)
    env = lmdb.open(output, map_size=map_size)
    written, bad = 0, []
    with env.begin(write=True) as txn:
        for relative, _, label in source.entries:
            path = source.root / relative
            try:
                data = path.read_bytes()
                decode_image(open_image(data, str(path)), str(path))
            except OSError as error:
                if strict:
                    raise SystemExit(f"{error}")
                bad.append(str(error))
                continue
            written += 1
            txn.put(f"image-{written:09d}".encode(), data)
            txn.put(f"label-{written:09d}".encode(), label.encode("utf-8"))
        txn.put(b"num-samples", str(written).encode())
    env.close()
    return dict(written=written, skipped=bad)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("label_file")
    parser.add_argument("output")
    parser.add_argument("--root", default=None, help="folder the image paths are relative to (default: the label file's)")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad image")
    args = parser.parse_args()
    result = convert(args.label_file, args.output, args.root, args.strict)
    for problem in result["skipped"]:
        print(f"skipped: {problem}", file=sys.stderr)
    print(f"{args.output}: {result['written']} samples written, {len(result['skipped'])} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
