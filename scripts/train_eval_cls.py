#!/usr/bin/env python
"""Train the default classification config on rendered glyphs for a bounded time, then evaluate on held-out fonts.

1. The fonts are split as for the CRNN (whole families held out: STIX, Fira Sans, IBM Plex Mono). Training and
   validation render glyphs with the other fonts; the evaluation set renders glyphs with the held-out families
   only, from a seed that neither training nor validation uses.
2. ``lightning fit --config CONFIG`` runs as a subprocess, bounded by ``max_time``.
3. The last checkpoint is read back (``weights_only=True``) and scored through ``lightocr classify``'s code path:
   top-1 over the 62 classes, and top-1 with the glyphs that no reader tells apart alone merged (``MERGED``: the
   case pairs that differ only in size, and 0/O/o, 1/I/l). The figures and the most common confusions are printed
   and written to ``docs/benchmarks.md``.

    python scripts/train_eval_cls.py [--minutes 10] [--config configs/cls_mobilenetv3.yaml] [-- extra CLI args]
"""
from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import torch
from _report import HELD_OUT_FAMILIES, ROOT, bounded_fit, split_fonts, train_eval_parser, write_section

from lightocr.tasks import load_task
from lightocr.data import GlyphSource
from lightocr.data.classification import GLYPHS

EVAL_SEED = 9_000_019
START, END = "<!-- cls:start -->", "<!-- cls:end -->"
# single glyphs that differ only in size (or not at all) between classes, merged for the second figure
MERGED = ("0Oo", "1Il", "Cc", "Kk", "Pp", "Ss", "Uu", "Vv", "Ww", "Xx", "Zz")


def merged(name: str) -> str:
    return next((group for group in MERGED if name in group), name)


def evaluate(checkpoint: Path, fonts: list, glyphs: int, classes: str = GLYPHS, seed: int = EVAL_SEED) -> dict:
    """Top-1 (exact and merged) of a checkpoint on ``glyphs`` rendered glyphs of ``classes`` in ``fonts``."""
    task = load_task(str(checkpoint), "image-classification")
    source = GlyphSource(size=glyphs, seed=seed, classes=classes, font_include=fonts)
    pairs, predictor = [], task.predictor()
    for start in range(0, len(source), 256):
        images, labels, _ = zip(*(source.load(index) for index in range(start, min(start + 256, len(source)))))
        pairs.extend(zip(labels, (row["text"] for row in predictor(list(images), 256))))
    exact = sum(t == p for t, p in pairs) / len(pairs)
    merged_acc = sum(merged(t) == merged(p) for t, p in pairs) / len(pairs)
    confusions = collections.Counter((t, p) for t, p in pairs if merged(t) != merged(p)).most_common(10)
    return dict(top1=exact, top1_merged=merged_acc, confusions=confusions, glyphs=len(pairs))


def main() -> int:
    parser = train_eval_parser(__doc__, "cls_mobilenetv3.yaml", 10.0, "train_eval_cls")
    parser.add_argument("--eval-glyphs", type=int, default=5000)
    args = parser.parse_args()

    train_fonts, held_out = split_fonts()
    print(f"training fonts: {train_fonts}\nheld-out families: {held_out}", flush=True)
    glyphs = "lightocr.data.GlyphSource"
    source = dict(class_path=glyphs, init_args=dict(size=200_000, seed=0, font_include=train_fonts))
    val = dict(class_path=glyphs, init_args=dict(size=2000, seed=1_000_003, font_include=train_fonts))
    fit = bounded_fit(args.config, args.minutes, Path(args.run_dir), [
        f"--data.init_args.train_source={json.dumps(source)}", f"--data.init_args.val_source={json.dumps(val)}",
        *args.extra])
    result = evaluate(fit["checkpoint"], held_out, args.eval_glyphs)
    result.update(steps=fit["steps"], train_minutes=round(fit["train_seconds"] / 60, 1))
    print(json.dumps(result, indent=2))
    if not args.no_docs:
        section = "\n".join([
            START, "## Image classification on rendered glyphs (CPU)", "",
            f"Command: `python scripts/train_eval_cls.py --minutes {args.minutes:g} {' '.join(args.extra)}`".rstrip(),
            "", f"Config `{Path(args.config).relative_to(ROOT)}`, {torch.get_num_threads()} CPU threads, "
            f"{result['steps']} steps in {result['train_minutes']} min (wall, start-up and validation included). "
            f"Evaluation: {result['glyphs']} glyphs (0-9, A-Z, a-z) rendered with the held-out families "
            f"{', '.join(f[:-1] for f in HELD_OUT_FAMILIES)} ({len(held_out)} files) and an unseen seed.", "",
            "| figure | value |", "|---|---|",
            f"| top-1, 62 classes | {100 * result['top1']:.2f}% |",
            f"| top-1, indistinguishable glyphs merged ({', '.join('/'.join(g) for g in MERGED)}) | "
            f"{100 * result['top1_merged']:.2f}% |",
            f"| most common confusions (true -> predicted, count) | "
            f"{', '.join(f'{t}->{p} {n}' for (t, p), n in result['confusions'])} |",
            END])
        write_section(ROOT / "docs/benchmarks.md", section, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
