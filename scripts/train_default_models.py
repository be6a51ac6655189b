#!/usr/bin/env python
"""Train the models that ship inside lightocr (``lightocr.pretrained``), export them into the package and write
their figures.

Each model trains through the real command line (``lightocr fit``) in ``runs/default_models/<name>/`` for a time
budget (``--minutes``: total training time, counted by Lightning's ``Timer`` across parts). The script resumes
where a run stopped (``--ckpt_path auto``), so it can run in parts: stop it (Ctrl-C, SIGTERM) and run it again.
With ``--from-shipped`` a model trains on from the weights that ship now (``init_from`` its name, a new run in
``runs/default_models/<name>-part<n>/``, n the part's number: fresh optimizer and schedule, the config as it is
now), and its figures keep the earlier parts.
A model whose budget is spent is exported as ``lightocr/weights/<name>.onnx`` (for reading) and
``<name>.safetensors`` (its weights in half precision with its settings, for ``init_from`` and the torch
engine), then scored on what it never saw:

- ``lightocr-det`` (``configs/det_mobilenetv3.yaml``): trained on pages in every font but the held-out families,
  on every background (the shipped model is for users' pages: ``train_eval_det.py`` holds the ``ruled`` and
  ``speckle`` kinds out as well, to measure the recipe); scored on pages in the held-out families (ICDAR2015
  hmean).
- ``lightocr-rec-document`` (``configs/crnn_document.yaml``): trained on the config's document lines in the
  training fonts; scored on document lines in the held-out families with mild distortions, by character error
  rate and word accuracy (1 - word error rate), case-sensitive and not.

The figures go to ``lightocr/weights/models.json`` and ``docs/benchmarks.md``.

    python scripts/train_default_models.py [--models lightocr-det lightocr-rec-document] [--minutes 30 60]
                                           [--from-shipped] [-- LightningCLI overrides, e.g. --model.init_args.lr=0.001]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from _report import HELD_OUT_FAMILIES, ROOT, source_yaml, split_fonts, write_section
from train_eval_crnn import MILD
from train_eval_det import held_out_pages, lightocr_finder, pages_yaml, score

from lightocr.checkpoints import read_checkpoint, write_weights
from lightocr.data import SyntheticTextSource
from lightocr.data.pages import BACKGROUNDS
from lightocr.data.transforms import augment_line, build_pipeline
from lightocr.export import export_task
from lightocr.lightning_cli import read_config_file
from lightocr.pretrained import MODELS, WEIGHTS_DIR
from lightocr.tasks import load_task

# what models.json records of each part
PART_KEYS = ("config", "overrides", "minutes", "steps", "machine", "date", "run")
# relative to the repository, as models.json records them
CONFIGS = {"lightocr-det": "configs/det_mobilenetv3.yaml", "lightocr-rec-document": "configs/crnn_document.yaml"}
EVAL_SEED = 7_777_001
READING_SETTINGS = ("thresh", "box_thresh", "unclip_ratio")  # DetectionTask's DBPostProcess
SLACK_S = 30  # a run this close to its budget has spent it (the Timer stops at a step's end)
START, END = "<!-- default-models:start -->", "<!-- default-models:end -->"


def config_file(name: str) -> Path:
    """A model's config in this repository, wherever the script is started from."""
    return ROOT / CONFIGS[name]


def overrides(name: str, train_fonts: List[str]) -> List[str]:
    """The training data of a model: its config's sources, drawn in the training fonts only."""
    detector = name == "lightocr-det"

    def sources(size: int, seed: int) -> str:
        if detector:  # pages on every background: the shipped detector reads users' pages
            return pages_yaml(config_file(name), train_fonts, size, seed, BACKGROUNDS)
        return source_yaml(config_file(name), train_fonts, size, seed)
    return [f"--data.init_args.{split}_sources={sources(size, seed)}"
            for split, size, seed in (("train", 1_000_000, 0), ("val", 100 if detector else 500, 1_000_003))]


def reading_settings(name: str) -> Dict[str, float]:
    """The box post-processing settings the model's config names, applied to the trained model as it is exported:
    how it reads, not what it learnt (a part may have been trained under other values)."""
    init_args = (read_config_file(config_file(name)).get("model") or {}).get("init_args") or {}
    return {key: init_args[key] for key in READING_SETTINGS if key in init_args}


def trained_seconds(checkpoint: Path) -> float:
    """The training time a checkpoint's ``Timer`` counted (all parts of the run)."""
    callbacks = read_checkpoint(checkpoint).get("callbacks", {})
    return max((float(state["time_elapsed"].get("train", 0.0)) for state in callbacks.values()
                if isinstance(state, dict) and "time_elapsed" in state), default=0.0)


def last_checkpoint(run_dir: Path) -> Optional[Path]:
    """The newest ``last.ckpt`` of a run folder (any version), if any."""
    checkpoints = sorted(run_dir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    return checkpoints[-1] if checkpoints else None


def read_figures(path: Path) -> Dict[str, dict]:
    """The figures ``models.json`` records of each shipped model, as the file is now (none before the first)."""
    return json.loads(path.read_text()) if path.exists() else {}


def shipped_parts(figures: Dict[str, dict], name: str) -> List[dict]:
    """The training parts of the shipped ``name`` as ``models.json`` records them (a record written before parts
    is one part)."""
    record = figures.get(name)
    if not record:
        return []
    return record.get("parts") or [{k: record[k] for k in [*PART_KEYS, "trained_by"] if k in record}]


def fit_in_parts(name: str, minutes: float, train_fonts: List[str], part: Optional[int] = None,
                 extra: Sequence[str] = ()) -> Tuple[Optional[Path], bool]:
    """Train ``name`` toward ``minutes`` of training, resuming its run; ``part``: the number of a part started
    from the shipped weights, in a folder of its own (a stopped part resumes there, a finished one is never
    resumed in place of the next); ``extra``: more LightningCLI arguments; ``(last checkpoint, budget spent)``."""
    run_dir = ROOT / "runs" / "default_models" / (name if part is None else f"{name}-part{part}")
    start = [] if part is None else [f"--model.init_args.init_from={name}"]
    whole, seconds = int(minutes), int(round((minutes - int(minutes)) * 60))
    command = [sys.executable, "-m", "lightocr", "fit", "--config", CONFIGS[name],
               f"--trainer.max_time=00:{whole // 60:02d}:{whole % 60:02d}:{seconds:02d}",
               f"--trainer.default_root_dir={run_dir}", "--trainer.enable_progress_bar=false",
               *overrides(name, train_fonts), *start, *extra, "--ckpt_path=auto"]
    earlier = last_checkpoint(run_dir)
    if earlier and trained_seconds(earlier) >= minutes * 60 - SLACK_S:  # e.g. a part tried and not adopted
        print(f"{name}: {run_dir.relative_to(ROOT)} holds a finished run: it is exported again, not trained; move "
              "the folder away to train this part anew", file=sys.stderr, flush=True)
    print(f"{name}: {' '.join(command[:8])} ...", flush=True)
    code = subprocess.run(command, cwd=ROOT).returncode
    checkpoint = last_checkpoint(run_dir)
    if checkpoint is None:
        return None, False
    spent = trained_seconds(checkpoint)
    print(f"{name}: exit code {code}, {spent / 60:.1f} of {minutes:g} training minutes", flush=True)
    return checkpoint, code == 0 and spent >= minutes * 60 - SLACK_S


def score_recognizer(checkpoint: Path, held_out: List[str], lines: int) -> Dict[str, float]:
    """CER and word accuracy (1 - WER) of the recognizer on document lines in the held-out families, mild tilt,
    blur and noise, case-sensitive and case-folded."""
    from torchmetrics.text import CharErrorRate, WordErrorRate

    task = load_task(str(checkpoint))
    config = json.loads(source_yaml(config_file("lightocr-rec-document"), held_out, lines, EVAL_SEED))[0]["init_args"]
    source = SyntheticTextSource(**config)
    source.use_charset(task.charset.symbols, task.charset.case_sensitive)
    augment, predictor = build_pipeline(MILD), task.predictor()
    truths, reads = [], []
    for start in range(0, lines, 64):
        batch = [source.load(i) for i in range(start, min(lines, start + 64))]
        reads += [row["text"] for row in predictor([augment_line(augment, image, EVAL_SEED + start + k)
                                                    for k, (image, _, _) in enumerate(batch)], 64)]
        truths += [text for _, text, _ in batch]
    folded = [t.lower() for t in truths], [r.lower() for r in reads]
    return dict(lines=lines, cer=float(CharErrorRate()(reads, truths)),
                cer_folded=float(CharErrorRate()(folded[1], folded[0])),
                word_acc=max(0.0, 1 - float(WordErrorRate()(reads, truths))),
                word_acc_folded=max(0.0, 1 - float(WordErrorRate()(folded[1], folded[0]))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--minutes", nargs="+", type=float, default=[30.0, 60.0],
                        help="training minutes of each model, in the order of --models")
    parser.add_argument("--eval-lines", type=int, default=1000)
    parser.add_argument("--eval-pages", type=int, default=300)
    parser.add_argument("--from-shipped", action="store_true",
                        help="train on from the shipped weights of each model rather than from scratch")
    parser.add_argument("--trained-by", default=None, metavar="TEXT",
                        help="how this part was trained, for models.json and the docs' table (e.g. what changed "
                             "in the config since the part before)")
    parser.add_argument("extra", nargs="*", help="more LightningCLI arguments for every model, after --")
    args = parser.parse_args()
    if len(args.minutes) != len(args.models):
        parser.error(f"--minutes needs one value per model ({len(args.models)})")
    train_fonts, held_out = split_fonts()
    figures_file = WEIGHTS_DIR / "models.json"
    WEIGHTS_DIR.mkdir(exist_ok=True)
    for name, minutes in zip(args.models, args.minutes):
        earlier = shipped_parts(read_figures(figures_file), name) if args.from_shipped else []
        checkpoint, done = fit_in_parts(name, minutes, train_fonts, len(earlier) + 1 if args.from_shipped else None,
                                        args.extra)
        if not done:
            print(f"{name}: not finished; run this script again to continue", file=sys.stderr)
            return 1
        reading = reading_settings(name)
        task = load_task(str(checkpoint), **reading)
        export_task(task, WEIGHTS_DIR / f"{name}.onnx")
        write_weights(task.half(), WEIGHTS_DIR / f"{name}.safetensors")
        part = dict(config=CONFIGS[name], minutes=minutes, steps=int(read_checkpoint(checkpoint)["global_step"]),
                    machine=f"{torch.get_num_threads()} CPU threads", date=time.strftime("%Y-%m-%d"),
                    run=str(checkpoint.parent.parent.relative_to(ROOT)),
                    **({"overrides": args.extra} if args.extra else {}),
                    **({"trained_by": args.trained_by} if args.trained_by else {}))
        parts = earlier + [part]
        record = dict(part, minutes=sum(p["minutes"] for p in parts), steps=sum(p["steps"] for p in parts),
                      parts=parts)
        record.update({"reading": reading} if reading else {})
        if name == "lightocr-det":
            pages = held_out_pages(held_out, args.eval_pages, BACKGROUNDS)
            record.update(score(lightocr_finder(WEIGHTS_DIR / f"{name}.onnx"), pages), pages="every background")
        else:
            record.update(score_recognizer(checkpoint, held_out, args.eval_lines))
        figures = read_figures(figures_file)  # as it is now, after scoring, not as it was at the start
        figures[name] = record
        figures_file.write_text(json.dumps(figures, indent=1) + "\n")
        print(json.dumps({name: record}, indent=1), flush=True)
    write_section(ROOT / "docs" / "benchmarks.md", report(read_figures(figures_file)), START, END)
    return 0


def report(figures: Dict[str, dict]) -> str:
    rows = []
    for name, record in figures.items():
        if name == "lightocr-det":
            result = (f"hmean {record['all']['hmean']:.3f} (precision {record['all']['precision']:.3f}, recall "
                      f"{record['all']['recall']:.3f}) on held-out pages" +
                      (f", {record['pages']}" if "pages" in record else " (their backgrounds held out too)") +
                      "".join(f", read with {key} {value}" for key, value in record.get("reading", {}).items()))
        else:
            result = (f"CER {100 * record['cer']:.2f}% (case-folded {100 * record['cer_folded']:.2f}%), word "
                      f"accuracy {100 * record['word_acc']:.2f}% (case-folded {100 * record['word_acc_folded']:.2f}%) "
                      f"on {record['lines']} document lines")
        parts = record.get("parts", [record])
        training = "; then ".join(f"{p['minutes']:g} min, {p['steps']} steps, {p['machine']}, {p['date']}" +
                                  "".join(f", `{o}`" for o in p.get("overrides", [])) +
                                  (f" ({p['trained_by']})" if "trained_by" in p else "")
                                  for p in parts)
        if len(parts) > 1:
            training += f"; each part from the weights of the one before (`--from-shipped`), {record['minutes']:g} min"
        rows.append(f"| {name} | `{record['config']}` | {training} | {result} |")
    return "\n".join([
        START, "## The models that ship with lightocr", "",
        "Command: `python scripts/train_default_models.py`. Trained on synthetic data in every font "
        f"but the held-out families ({', '.join(f[:-1] for f in HELD_OUT_FAMILIES)}), scored in those families.",
        "", "| model | config | training | held-out figures |", "|---|---|---|---|", *rows, END])


if __name__ == "__main__":
    sys.exit(main())
