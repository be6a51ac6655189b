#!/usr/bin/env python
"""Adapt a trained recognizer to a new alphabet: a run started from it (``init_from``) against one from scratch,
in the same time, on the same labelled lines.

1. The start model: ``configs/crnn_mobilenetv3.yaml`` (the ``alnum36`` charset: a-z, 0-9, case folded) trained
   ``--start-minutes`` on synthetic English lines in the training fonts, or ``--start CKPT``.
2. A user's labelled data: ``--lines`` line images on disk with a PaddleOCR label file, in the charset plus
   ``NEW_SYMBOLS`` (German letters and currency signs): German words (``wordfreq:de``), numbers and random strings,
   in the training fonts that have the new symbols; and a validation file of a tenth of that.
3. Two ``lightning fit`` runs of ``--minutes`` each on those files with the new dictionary: from the start
   model, and from scratch.
4. Scored, with mild tilt, blur and noise, in the held-out font families (``HELD_OUT_FAMILIES``, those that have
   the new symbols), another seed: ``--eval-lines`` German words that hold a new symbol, and as many English
   words (the old alphabet); case-insensitive word accuracy.

    python scripts/finetune_alphabet.py [--start-minutes 10 | --start CKPT] [--minutes 5] [--lines 2000]
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import List

from _report import (HELD_OUT_FAMILIES, ROOT, bounded_fit, finetune_parser, fonts_with, split_fonts, start_model,
                     start_option, write_section)
from train_eval_crnn import MILD, score

from lightocr.data import SyntheticTextSource
from lightocr.data.sources import SampleSource
from lightocr.data.transforms import build_pipeline
from lightocr.ocr.charset import PRESETS
from lightocr.tasks import load_task

NEW_SYMBOLS = "äöüß€£"
START, END = "<!-- finetune:start -->", "<!-- finetune:end -->"
DATA_SEED, EVAL_SEED = 31_000_003, 41_000_017


class Lines(SampleSource):
    """Lines held in memory, ``(image, text)`` each."""

    def __init__(self, items):
        super().__init__()
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def load(self, index: int, epoch: int = 0):
        image, text = self.items[index]
        return image, text, f"line {index}"


def lines_with(source: SyntheticTextSource, count: int, symbols: str = "") -> List:
    """``count`` lines of a source, only those holding one of ``symbols`` when given."""
    found, index = [], 0
    while len(found) < count:
        image, text, _ = source.load(index % len(source), epoch=index // len(source))
        index += 1
        if not symbols or any(s in text.lower() for s in symbols):
            found.append((image, text))
    return found


def write_label_file(folder: Path, name: str, items: List) -> Path:
    """Images and a PaddleOCR label file, as a user would hand them over."""
    (folder / name).mkdir(parents=True, exist_ok=True)
    rows = []
    for number, (image, text) in enumerate(items):
        image.save(folder / name / f"{number:05d}.png")
        rows.append(f"{name}/{number:05d}.png\t{text}")
    (folder / f"{name}.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder / f"{name}.txt"


def main() -> int:
    parser = finetune_parser(__doc__, "crnn_mobilenetv3.yaml", 5.0, "finetune_alphabet", 10.0)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--eval-lines", type=int, default=300)
    args = parser.parse_args()
    train_fonts, _ = split_fonts()
    train_new, held_new = fonts_with(NEW_SYMBOLS)
    run_dir = Path(args.run_dir)
    start = start_model(args, ["--data.init_args.train_sources=" + json.dumps([dict(
        class_path="lightocr.data.SyntheticTextSource",
        init_args=dict(size=1_000_000, seed=0, font_include=train_fonts))])])
    folder = Path(tempfile.mkdtemp(prefix="finetune_alphabet_"))
    dictionary = folder / "alphabet.txt"
    dictionary.write_text("\n".join(PRESETS["alnum36"] + NEW_SYMBOLS), encoding="utf-8")
    user_lines = dict(lexicon="wordfreq:de", alphabet=PRESETS["alnum36"] + NEW_SYMBOLS, font_include=train_new)
    train_file = write_label_file(folder, "train", lines_with(
        SyntheticTextSource(size=args.lines, seed=DATA_SEED, **user_lines), args.lines))
    val_file = write_label_file(folder, "val", lines_with(
        SyntheticTextSource(size=args.lines // 10, seed=DATA_SEED + 1, **user_lines), args.lines // 10))
    common = [f"--data.init_args.charset={dictionary}", "--data.init_args.case_sensitive=false",
              "--data.init_args.train_sources=" + json.dumps([dict(class_path="lightocr.data.LabelFileSource",
                                                                   init_args=dict(path=str(train_file)))]),
              "--data.init_args.val_sources=" + json.dumps([dict(class_path="lightocr.data.LabelFileSource",
                                                                 init_args=dict(path=str(val_file)))])]
    runs = {"from the trained model (init_from)": bounded_fit(args.config, args.minutes, run_dir / "init_from",
                                                             common + [f"--model.init_args.init_from={start}"]),
            "from scratch": bounded_fit(args.config, args.minutes, run_dir / "scratch", common)}
    words = dict(lexicon_ratio=1.0, number_ratio=0.0, max_length=24)
    new_words = Lines(lines_with(SyntheticTextSource(size=args.eval_lines * 4, seed=EVAL_SEED, lexicon="wordfreq:de",
                                                     alphabet=user_lines["alphabet"], font_include=held_new, **words),
                                 args.eval_lines, NEW_SYMBOLS))
    old_words = Lines(lines_with(SyntheticTextSource(size=args.eval_lines, seed=EVAL_SEED + 1, font_include=held_new,
                                                     **words), args.eval_lines))
    mild = build_pipeline(MILD)
    rows = {}
    for name, fit in runs.items():
        task = load_task(str(fit["checkpoint"]))
        rows[name] = dict(new=score(task, new_words, mild)["word_acc_bench"],
                          old=score(task, old_words, mild)["word_acc_bench"], steps=fit["steps"])
    rows["the start model, not adapted"] = dict(new=None, old=score(load_task(str(start)), old_words,
                                                                     mild)["word_acc_bench"], steps=None)
    print(json.dumps(rows, indent=1))
    if args.no_docs:
        return 0
    table = ["| start | words with ä ö ü ß € £ | English words (old alphabet) | steps |", "|---|---|---|---|"]
    for name, row in rows.items():
        new = "-" if row["new"] is None else f"{100 * row['new']:.1f}%"
        table.append(f"| {name} | {new} | {100 * row['old']:.1f}% | {row['steps'] or '-'} |")
    start_note = (f"The start model: `{Path(args.config).name}` trained {args.start_minutes:g} min on synthetic "
                  f"English lines (alnum36)" if not args.start else f"The start model: `{args.start}`")
    section = "\n".join([
        START, "## Adapting a trained recognizer to a new alphabet (CPU)", "",
        f"Command: `python scripts/finetune_alphabet.py {start_option(args)} --minutes "
        f"{args.minutes:g} --lines {args.lines}`  ",
        f"{start_note}; {args.lines} labelled lines on disk (German words, numbers and random strings with "
        f"{' '.join(NEW_SYMBOLS)}), {args.minutes:g} minutes of training each; scored on {args.eval_lines} German "
        f"words holding a new symbol and {args.eval_lines} English words, in the "
        f"{', '.join(f[:-1] for f in HELD_OUT_FAMILIES)} families, mild tilt, blur and noise; case-insensitive.",
        "", *table, END])
    write_section(ROOT / "docs/benchmarks.md", section, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
