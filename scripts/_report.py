"""Shared by the benchmark and train-then-evaluate scripts: the held-out font families, the bounded `lightning fit`
run, and replacing one script's section of a Markdown report."""
from __future__ import annotations

import argparse
import fnmatch
import json
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Tuple

import torch
import yaml

from lightocr.data import find_fonts
from lightocr.data.synthetic import HAIRLINE_FONTS, font_symbols
from lightocr.lightning_cli import config_bases, read_config_file

ROOT = Path(__file__).resolve().parents[1]
FIT_RECORD = "fit.json"  # what bounded_fit writes in the run's version folder


# one family of each kind held out of training by the train-then-evaluate scripts: a Times-like serif
# (matplotlib's STIX), a humanist sans and a monospace (fontpkg's)
HELD_OUT_FAMILIES = ("STIX*", "FiraSans*", "IBMPlexMono*")


def split_fonts() -> Tuple[List[str], List[str]]:
    """The fonts that write Latin letters and digits (hairline weights left out, as the synthetic sources do),
    split into training fonts and the held-out families (``HELD_OUT_FAMILIES``), by file name."""
    alnum = set(string.ascii_letters + string.digits)
    names = sorted({Path(f).name for f in find_fonts(exclude=HAIRLINE_FONTS) if alnum <= font_symbols(f)})
    held_out = [n for n in names if any(fnmatch.fnmatch(n, family) for family in HELD_OUT_FAMILIES)]
    return [n for n in names if n not in held_out], held_out


def fonts_with(symbols: str) -> Tuple[List[str], List[str]]:
    """``split_fonts``, keeping only the fonts that also write every one of ``symbols`` (and saying which)."""
    paths = {Path(f).name: f for f in find_fonts()}
    covers = lambda names: [n for n in names if set(symbols) <= font_symbols(paths.get(n, n))]  # noqa: E731
    train, held_out = (covers(names) for names in split_fonts())
    print(f"fonts with {symbols}: {len(train)} for training, held out: {held_out}", flush=True)
    return train, held_out


def source_yaml(config: str, fonts: List[str], size: int, seed: int,
                default: str = "lightocr.data.SyntheticTextSource", **fixed) -> str:
    """The config's training sources, its ``base:`` configs' when it names none itself (one ``default`` source
    when none does), each synthetic one drawing ``size`` samples in ``fonts`` only, from ``seed`` on, with the
    ``fixed`` arguments."""
    sources = [dict(class_path=default)]
    for path in config_bases(Path(config)) + [config]:  # the most general first, as LightningCLI reads them
        named = ((read_config_file(Path(path)).get("data") or {}).get("init_args") or {}).get("train_sources")
        sources = named or sources
    for offset, source in enumerate(sources):
        if source["class_path"].rsplit(".", 1)[-1] in ("SyntheticTextSource", "SyntheticPageSource"):
            source["init_args"] = dict(source.get("init_args") or {}, size=size, seed=seed + offset,
                                       font_include=fonts, **fixed)
    return json.dumps(sources)


def train_eval_parser(doc: str, config: str, minutes, run_name: str) -> argparse.ArgumentParser:
    """The options of the train-then-evaluate scripts: the config, the time bound (several when ``minutes`` is a
    tuple), the run folder, whether to write the report, and LightningCLI arguments after ``--``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / config))
    several = isinstance(minutes, tuple)
    parser.add_argument("--minutes", type=float, default=minutes, nargs="+" if several else None,
                        help="training time bound" + ("s, one run each" if several else "") + " (max_time)")
    parser.add_argument("--run-dir", default=str(ROOT / "runs" / run_name))
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    parser.add_argument("extra", nargs="*", help="more LightningCLI arguments, after --")
    return parser


def finetune_parser(doc: str, config: str, minutes, run_name: str, start_minutes: float) -> argparse.ArgumentParser:
    """``train_eval_parser`` with the start model of the fine-tuning scripts: a checkpoint, or trained first."""
    parser = train_eval_parser(doc, config, minutes, run_name)
    parser.add_argument("--start", metavar="CKPT", help="the trained model to start from (default: train one)")
    parser.add_argument("--start-minutes", type=float, default=start_minutes,
                        help="how long the start model trains, without --start")
    return parser


def start_model(args: argparse.Namespace, overrides: List[str]) -> Path:
    """``--start``, or the last checkpoint of ``--config`` trained ``--start-minutes`` with ``overrides``."""
    if args.start:
        return Path(args.start)
    return bounded_fit(args.config, args.start_minutes, Path(args.run_dir) / "start", overrides)["checkpoint"]


def start_option(args: argparse.Namespace) -> str:
    """How the fine-tuning scripts' report names the start model's option: ``--start CKPT`` or the time."""
    return f"--start {args.start}" if args.start else f"--start-minutes {args.start_minutes:g}"


def bounded_fit(config: str, minutes: float, run_dir: Path, overrides: List[str]) -> dict:
    """``lightning fit --config CONFIG`` as a subprocess (the real command line) bounded by ``max_time``; returns
    the newest ``last.ckpt`` with its step count, its number of processes, the wall time and the resolved config."""
    whole = int(minutes)
    seconds = int(round((minutes - whole) * 60))
    command = [sys.executable, "-m", "lightocr", "fit", "--config", config,
               f"--trainer.max_time=00:00:{whole:02d}:{seconds:02d}", f"--trainer.default_root_dir={run_dir}",
               "--trainer.enable_progress_bar=false", *overrides]
    print(" ".join(command), flush=True)
    start = time.time()
    subprocess.run(command, check=True, cwd=ROOT)
    train_seconds = time.time() - start
    checkpoint = max(run_dir.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    # the processes that trained it, from the data module's position (a step is one batch on each)
    world_size = next((value["world_size"] for value in state.values()
                       if isinstance(value, dict) and "world_size" in value), 1)
    record = dict(steps=state["global_step"], world_size=world_size, train_seconds=train_seconds, minutes=minutes,
                  overrides=overrides)
    (checkpoint.parent.parent / FIT_RECORD).write_text(json.dumps(record, indent=1))
    return read_fit(checkpoint)


def read_fit(checkpoint: Path) -> Optional[dict]:
    """What ``bounded_fit`` recorded of the run a checkpoint belongs to (steps, wall time, minutes, overrides) with
    the run's resolved config; None for a run it did not make."""
    version = Path(checkpoint).resolve().parent.parent
    if not (version / FIT_RECORD).exists():
        return None
    record = json.loads((version / FIT_RECORD).read_text())
    return dict(record, checkpoint=Path(checkpoint), config=yaml.safe_load((version / "config.yaml").read_text()))


def write_section(path: Path, section: str, start: str, end: str) -> None:
    """Put ``section`` (which begins with ``start`` and ends with ``end``) in place of the old one, or append it."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
