#!/usr/bin/env python
"""Adapt a trained glyph classifier to a new class list: a run started from it (``init_from``) against one from
scratch, in the same time, on the same labelled images.

1. The start model: ``configs/cls_mobilenetv3.yaml`` (62 classes: 0-9, A-Z, a-z) trained ``--start-minutes`` on
   glyphs in the training fonts, or ``--start CKPT``.
2. A user's labelled data: ``--images`` glyph images on disk, one folder per class, in a new class list
   (``NEW_CLASSES``): the digits and lower-case letters it shares with the start model, the upper-case letters
   dropped, and German letters and currency signs added; in the training fonts that write them. A validation
   folder of a tenth of that.
3. Two ``lightning fit`` runs for each of ``--minutes`` on those folders: from the start model (the classifier's
   rows mapped by class name), and from scratch.
4. Scored on glyphs rendered in the held-out font families (``HELD_OUT_FAMILIES``, those that write the new
   symbols), another seed: ``--eval-glyphs`` of the new classes and as many of the shared ones; top-1, and top-1
   with 0/o merged (no reader tells them apart alone); the start model, not adapted, on the shared ones.

    python scripts/finetune_classes.py [--start-minutes 5 | --start CKPT] [--minutes 1 5] [--images 2000]
"""
from __future__ import annotations

import json
import string
import sys
import tempfile
from pathlib import Path

from _report import (HELD_OUT_FAMILIES, ROOT, bounded_fit, finetune_parser, fonts_with, split_fonts, start_model,
                     start_option, write_section)
from train_eval_cls import evaluate

from lightocr.data import GlyphSource

SHARED = string.digits + string.ascii_lowercase
ADDED = "äöüß€£"
NEW_CLASSES = SHARED + ADDED
START, END = "<!-- finetune-cls:start -->", "<!-- finetune-cls:end -->"
DATA_SEED, EVAL_SEED = 31_000_005, 41_000_019


def write_image_folder(root: Path, source: GlyphSource) -> Path:
    """The source's glyphs as ``root/<class>/<n>.png``, as a user would hand them over."""
    for index in range(len(source)):
        image, label, _ = source.load(index)
        (root / label).mkdir(parents=True, exist_ok=True)
        image.save(root / label / f"{index:05d}.png")
    return root


def main() -> int:
    parser = finetune_parser(__doc__, "cls_mobilenetv3.yaml", (1.0, 5.0), "finetune_classes", 5.0)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--eval-glyphs", type=int, default=1000)
    args = parser.parse_args()
    train_fonts, _ = split_fonts()
    train_new, held_new = fonts_with(ADDED)
    run_dir = Path(args.run_dir)
    glyphs = "lightocr.data.GlyphSource"
    start = start_model(args, [
        "--data.init_args.train_source=" + json.dumps(dict(
            class_path=glyphs, init_args=dict(size=200_000, seed=0, font_include=train_fonts))),
        "--data.init_args.val_source=" + json.dumps(dict(
            class_path=glyphs, init_args=dict(size=2000, seed=1_000_003, font_include=train_fonts)))])
    folder = Path(tempfile.mkdtemp(prefix="finetune_classes_"))
    for name, size, seed in (("train", args.images, DATA_SEED), ("val", args.images // 10, DATA_SEED + 1)):
        write_image_folder(folder / name, GlyphSource(size=size, seed=seed, classes=NEW_CLASSES,
                                                      font_include=train_new))
    common = [f"--data.init_args.{name}_source=" + json.dumps(dict(class_path="lightocr.data.ImageFolderSource",
                                                                  init_args=dict(root=str(folder / name))))
              for name in ("train", "val")]
    rows = []
    for minutes in args.minutes:
        for name, folder_name, start_from in (
                ("from the trained model (init_from)", "init_from", [f"--model.init_args.init_from={start}"]),
                ("from scratch", "scratch", [])):
            fit = bounded_fit(args.config, minutes, run_dir / f"{folder_name}_{minutes:g}min", common + start_from)
            shared = evaluate(fit["checkpoint"], held_new, args.eval_glyphs, SHARED, EVAL_SEED + 1)
            rows.append(dict(start=name, minutes=minutes, steps=fit["steps"], shared=shared,
                             new=evaluate(fit["checkpoint"], held_new, args.eval_glyphs, ADDED, EVAL_SEED)["top1"]))
    rows.append(dict(start="the start model, not adapted", minutes=None, steps=None, new=None,
                     shared=evaluate(start, held_new, args.eval_glyphs, SHARED, EVAL_SEED + 1)))
    print(json.dumps(rows, indent=1))
    if args.no_docs:
        return 0
    table = ["| start | minutes | steps | added classes (ä ö ü ß € £) | shared classes (0-9, a-z) | "
             "shared, 0/o merged |", "|---|---|---|---|---|---|"]
    for row in rows:
        new = "-" if row["new"] is None else f"{100 * row['new']:.1f}%"
        minutes = "-" if row["minutes"] is None else f"{row['minutes']:g}"
        table.append(f"| {row['start']} | {minutes} | {row['steps'] or '-'} | {new} | "
                     f"{100 * row['shared']['top1']:.1f}% | {100 * row['shared']['top1_merged']:.1f}% |")
    start_note = (f"The start model: `{Path(args.config).name}` trained {args.start_minutes:g} min on glyphs "
                  f"(62 classes)" if not args.start else f"The start model: `{args.start}`")
    section = "\n".join([
        START, "## Adapting a trained glyph classifier to a new class list (CPU)", "",
        f"Command: `python scripts/finetune_classes.py {start_option(args)} --minutes "
        f"{' '.join(f'{m:g}' for m in args.minutes)} --images {args.images}`  ",
        f"{start_note}; {args.images} labelled images on disk, one folder per class, in a new list of "
        f"{len(NEW_CLASSES)} classes ({len(SHARED)} shared: 0-9, a-z; {len(ADDED)} added: {' '.join(ADDED)}; the 26 "
        f"upper-case classes dropped), each run as long as its row says; scored on {args.eval_glyphs} "
        f"glyphs of the added classes and {args.eval_glyphs} of the shared ones, in the "
        f"{', '.join(f[:-1] for f in HELD_OUT_FAMILIES)} families, another seed.", "", *table, END])
    write_section(ROOT / "docs/benchmarks.md", section, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
