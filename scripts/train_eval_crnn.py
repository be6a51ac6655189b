#!/usr/bin/env python
"""Train the default CRNN config on synthetic lines for a bounded time, then evaluate on what it never saw.

1. Whole font families are held out (``HELD_OUT_FAMILIES``: STIX, the Times-like serif that matplotlib ships,
   Fira Sans and IBM Plex Mono): the run trains and validates with every other font of the machine (Pillow's
   built-in, Hershey, DejaVu, Computer Modern, the ``fontpkg`` families).
2. ``lightning fit --config CONFIG`` runs as a subprocess (the real command line), with ``max_time`` as the
   bound (the schedule follows it); the config's synthetic training sources (one when it names none) draw in the
   training fonts only.
3. The last checkpoint is read back (``weights_only=True``) and scored on real English words (``wordfreq``) in
   real case patterns, rendered in the held-out families only, from an unseen seed:
   - with mild tilt, blur and noise (``MILD``: the issue's protocol, the headline figure), clean, and with the
     full training distortions (``DEFAULT_LINE_AUGMENT``: low resolution, JPEG, erosion, curvature... a harder
     test than the protocol), and in small print (``SMALL_TEXT``: 10-16 px, enlarged by the reader) with mild
     distortions;
   - with mild distortions: per font family (training families too), words with a doubled letter against the
     others, the ten most common confusions;
   - same family: the training mix of text, in the training fonts, with the training distortions.
   Word accuracy is case-insensitive and alphanumeric (the benchmark protocol). Inference throughput at batch 64
   on 32x320 lines; training throughput from the fit's step count and time. The figures are printed and written
   to ``docs/benchmarks.md``.

The default config is ``configs/crnn_mobilenetv3_cpu.yaml``: the default recipe on two DDP processes, as it trains
fastest on a 2-core CPU.

    python scripts/train_eval_crnn.py [--minutes 30] [--config configs/crnn_mobilenetv3_cpu.yaml] [-- extra CLI args]
"""
from __future__ import annotations

import collections
import difflib
import json
import sys
import time
from pathlib import Path
from typing import List

import cv2
import torch
from _report import (HELD_OUT_FAMILIES, ROOT, bounded_fit, read_fit, source_yaml, split_fonts, train_eval_parser,
                     write_section)

from lightocr.tasks import load_task
from lightocr.data import SyntheticTextSource, default_augment
from lightocr.data.synthetic import font_family
from lightocr.data.transforms import augment_line, build_pipeline
from lightocr.ocr import CharErrorRate, WordAccuracy

EVAL_SEED = 9_000_017
# mild tilt, blur and noise: how the reference measurement distorted its words
MILD = [dict(transform="Affine", rotate=(-2, 2), fit_output=True, border_mode=cv2.BORDER_REPLICATE, p=1.0),
        dict(transform="GaussianBlur", blur_limit=(3, 3), p=0.5),
        dict(transform="GaussNoise", std_range=(0.02, 0.05), p=0.5)]
SMALL_TEXT = (10, 16)  # font sizes in pixels of the small-print row
START, END = "<!-- crnn:start -->", "<!-- crnn:end -->"


def score(task, source, augment, batch_size: int = 64) -> dict:
    """Benchmark-protocol word accuracy, exact word accuracy and CER of the task on a source distorted by
    ``augment``, with every (label, prediction) pair."""
    source.use_charset(task.charset.symbols, task.charset.case_sensitive)
    bench, exact = WordAccuracy("benchmark", charset=task.charset.symbols), WordAccuracy("exact")
    cer, pairs, predictor = CharErrorRate(), [], task.predictor()
    for start in range(0, len(source), batch_size):
        images, labels = [], []
        for index in range(start, min(start + batch_size, len(source))):
            image, label, _ = source.load(index)
            images.append(image if augment is None else augment_line(augment, image, index))
            labels.append(task.charset.normalize(label))
        predictions = [row["text"] for row in predictor(images, batch_size)]
        for metric in (bench, exact, cer):
            metric.update(predictions, labels)
        pairs.extend(zip(labels, predictions))
    return dict(word_acc_bench=bench.compute().item(), word_acc=exact.compute().item(), cer=cer.compute().item(),
                pairs=pairs)


def evaluate(checkpoint: Path, train_fonts: List[str], held_out: List[str], lines: int) -> dict:
    task = load_task(str(checkpoint))
    # real words only, whole: max_length above the longest common English word (the training lines' 12 would cut
    # "impossibility" to "impossibilit")
    words = dict(lexicon_ratio=1.0, number_ratio=0.0, max_length=24)
    held, held_clean, held_hard = (
        score(task, SyntheticTextSource(size=lines, seed=EVAL_SEED, font_include=held_out, **words), augment)
        for augment in (build_pipeline(MILD), None, default_augment()))
    # small print: the words drawn 10-16 px tall, then blurred and enlarged to the model's height by the reader
    held_small = score(task, SyntheticTextSource(size=lines // 2, seed=EVAL_SEED + 3, font_include=held_out,
                                                 font_size=SMALL_TEXT, **words), build_pipeline(MILD))
    same = score(task, SyntheticTextSource(size=lines, seed=EVAL_SEED + 1, font_include=train_fonts),
                 default_augment())
    families = {}
    for family in sorted({font_family(f) for f in train_fonts + held_out}):
        fonts = [f for f in train_fonts + held_out if font_family(f) == family]
        families[family] = score(task, SyntheticTextSource(size=max(100, lines // 5), seed=EVAL_SEED + 2,
                                                           font_include=fonts, **words),
                                 build_pipeline(MILD))["word_acc_bench"]
    fold = lambda text: "".join(c for c in text.lower() if c.isalnum())  # noqa: E731
    doubled = [(t, p) for t, p in held["pairs"] if any(a == b for a, b in zip(fold(t), fold(t)[1:]))]
    single = [(t, p) for t, p in held["pairs"] if (t, p) not in doubled]
    accuracy = lambda pairs: sum(fold(t) == fold(p) for t, p in pairs) / max(1, len(pairs))  # noqa: E731
    misread = [(t, p) for t, p in held["pairs"] if fold(t) != fold(p)]
    confusions = collections.Counter()  # aligned pieces that differ: ("l", "i"), ("m", "rn"), ("e", "")
    for truth, read in misread:
        truth, read = fold(truth), fold(read)
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, truth, read, autojunk=False).get_opcodes():
            if op != "equal":
                confusions[(truth[i1:i2], read[j1:j2])] += 1
    with torch.inference_mode():
        x = torch.randn(64, task.hparams.in_chans, 32, 320)
        task(x)
        times = []
        for _ in range(5):
            start = time.perf_counter()
            task(x)
            times.append(time.perf_counter() - start)
    return dict(held_word_acc=held["word_acc_bench"], held_cer=held["cer"],
                held_clean_word_acc=held_clean["word_acc_bench"], held_hard_word_acc=held_hard["word_acc_bench"],
                held_hard_cer=held_hard["cer"], held_small_word_acc=held_small["word_acc_bench"],
                held_small_cer=held_small["cer"], same_word_acc=same["word_acc_bench"],
                same_exact=same["word_acc"], families=families, doubled_acc=accuracy(doubled), doubled_n=len(doubled),
                single_acc=accuracy(single), confusions=confusions.most_common(10), misread=misread[:10],
                infer_lines_per_s=64 / sorted(times)[2])


def main() -> int:
    parser = train_eval_parser(__doc__, "crnn_mobilenetv3_cpu.yaml", 30.0, "train_eval_crnn")
    parser.add_argument("--eval-lines", type=int, default=2000)
    parser.add_argument("--eval-only", metavar="CKPT", help="score a checkpoint of an earlier run instead of "
                        "training; the report is written when this script trained that run")
    args = parser.parse_args()

    train_fonts, held_out = split_fonts()  # the fonts that write Latin text; whole families held out
    print(f"training fonts: {train_fonts}\nheld-out families: {held_out}", flush=True)
    if args.eval_only:
        fit = read_fit(Path(args.eval_only))
        if fit is None:
            print(json.dumps(evaluate(Path(args.eval_only), train_fonts, held_out, args.eval_lines), indent=2))
            return 0
    else:
        fit = bounded_fit(args.config, args.minutes, Path(args.run_dir), [
            f"--data.init_args.train_sources={source_yaml(args.config, train_fonts, 1_000_000, 0)}",
            "--data.init_args.val_sources=" + json.dumps([dict(
                class_path="lightocr.data.SyntheticTextSource",
                init_args=dict(size=1000, seed=1_000_003, font_include=train_fonts))]), *args.extra])
    steps, train_seconds = fit["steps"], fit["train_seconds"]
    world_size = fit.get("world_size", 1)  # runs recorded before it was kept were one process
    lines_per_step = fit["config"]["data"]["init_args"]["batch_size"] * world_size
    result = evaluate(fit["checkpoint"], train_fonts, held_out, args.eval_lines)
    result.update(steps=steps, train_seconds=round(train_seconds),
                  train_lines_per_s=steps * lines_per_step / train_seconds)
    print(json.dumps(result, indent=2))
    if not args.no_docs:
        processes = (f"{world_size} DDP processes of one thread" if world_size > 1
                     else f"{torch.get_num_threads()} CPU threads")
        extra = fit["overrides"][2:]  # after the fonts
        command = f"python scripts/train_eval_crnn.py --minutes {fit['minutes']:g} {' '.join(extra)}".rstrip()
        if args.eval_only:
            command += f"`; scored again with `python scripts/train_eval_crnn.py --eval-only {args.eval_only}"
        section = "\n".join([
            START, "## CRNN on synthetic text, read on a held-out font family and real words (CPU)", "",
            f"Command: `{command}`",
            "", f"Config `{Path(args.config).relative_to(ROOT)}`, {processes}, "
            f"{steps} steps in {train_seconds / 60:.1f} min (wall, start-up and validation included), "
            f"{result['train_lines_per_s']:.0f} training lines/s. Held out of training: the "
            f"{', '.join(f[:-1] for f in HELD_OUT_FAMILIES)} families ({len(held_out)} files). "
            "Word accuracy is case-insensitive and alphanumeric.", "",
            "| figure | value |", "|---|---|",
            f"| held-out families, {args.eval_lines} real words in real case patterns, mild tilt, blur and noise | "
            f"{100 * result['held_word_acc']:.2f}% (CER {100 * result['held_cer']:.2f}%) |",
            f"| held-out families, {args.eval_lines // 2} real words in small print ({SMALL_TEXT[0]}-{SMALL_TEXT[1]} "
            f"px font size, enlarged to 32 px), mild tilt, blur and noise | {100 * result['held_small_word_acc']:.2f}% "
            f"(CER {100 * result['held_small_cer']:.2f}%) |",
            f"| the same words clean / with the full training distortions | "
            f"{100 * result['held_clean_word_acc']:.2f}% / {100 * result['held_hard_word_acc']:.2f}% "
            f"(CER {100 * result['held_hard_cer']:.2f}%) |",
            f"| training fonts, the training mix of text, training distortions, unseen seed | "
            f"{100 * result['same_word_acc']:.2f}% |",
            f"| held-out words with a doubled letter ({result['doubled_n']}) / without | "
            f"{100 * result['doubled_acc']:.2f}% / {100 * result['single_acc']:.2f}% |",
            "| real words per font family, mild distortions | " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in
                                                       result["families"].items()) + " |",
            "| the ten most common confusions on the held-out set, mild distortions (true -> read: count) | "
            + ", ".join(f"{t} -> {p or '(none)'}: {n}" for (t, p), n in result["confusions"]) + " |",
            "| misread held-out words, the first ten | "
            + ", ".join(f"{t} -> {p or '(empty)'}" for t, p in result["misread"]) + " |",
            f"| inference throughput (batch 64, 32x320) | {result['infer_lines_per_s']:.0f} lines/s |",
            END])
        write_section(ROOT / "docs/benchmarks.md", section, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
