#!/usr/bin/env python
"""Start-up of reading, before and after a change, in the same run: the wall time of ``lightocr read --ckpt
model.onnx one.png`` (median of ``--repeats`` fresh processes), with the lines/s of the default CRNN training
step and the total lines of ``lightocr/`` beside it, for this tree and for ``--before`` (a git commit, checked
out into a temporary folder). Each tree exports its own default CRNN (untrained) and reads the same line image.

    python scripts/benchmark_startup.py --before 526383a
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from _report import write_section
from benchmark_training import measure

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- startup:start -->", "<!-- startup:end -->"
EXPORT = ("import sys, string\n"
          "from lightocr.export import export_task\n"
          "from lightocr.tasks import TextRecognitionTask\n"
          "task = TextRecognitionTask(charset=list(string.digits + string.ascii_lowercase))\n"
          "export_task(task, sys.argv[1])\n")
READ = "import sys; from lightocr.cli import lightocr_main; lightocr_main(sys.argv[1:])"


def check_out(commit: str, folder: Path) -> Path:
    """The tree of ``commit`` in ``folder`` (``git archive``)."""
    archive = folder / "tree.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(archive), commit], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "tree", filter="data")
    return folder / "tree"


def run_in(tree: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(tree), WANDB_MODE="disabled")
    env.pop("LIGHTOCR_RUN_DIR", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)


def read_seconds(tree: Path, folder: Path, image: Path, repeats: int) -> tuple:
    """Median wall time of ``lightocr read`` of ``image`` with the tree's own exported model, and its output."""
    model = folder / f"{tree.name}.onnx"
    run_in(tree, "-c", EXPORT, str(model), cwd=folder)
    times, printed = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        printed = run_in(tree, "-c", READ, "read", "--ckpt", str(model), str(image), cwd=folder).stdout
        times.append(time.perf_counter() - start)
    return statistics.median(times), printed.strip()


def package_lines(tree: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (tree / "lightocr").rglob("*.py"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the git commit to compare with")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40, help="training steps timed (after 10 of warm-up)")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        image = folder / "one.png"
        line = Image.new("RGB", (140, 32), "white")
        ImageDraw.Draw(line).text((6, 4), "hello42", font=ImageFont.load_default(22), fill="black")
        line.save(image)
        trees = {f"before ({args.before})": check_out(args.before, folder), "after (this tree)": ROOT}
        results = {}
        for name, tree in trees.items():
            seconds, printed = read_seconds(tree, folder, image, args.repeats)
            training = measure(str(tree / "configs/crnn_mobilenetv3.yaml"), args.steps + 10, 10, devices=1,
                               precision="32-true", batch_size=64, package_root=tree)
            results[name] = (seconds, training["lines_per_s"], package_lines(tree))
            print(f"{name}: read {seconds:.2f} s ({printed!r}), training {training['lines_per_s']:.0f} lines/s, "
                  f"{results[name][2]} lines in lightocr/", flush=True)
    (old_read, old_train, old_lines), (new_read, new_train, new_lines) = results.values()
    rows = ["| tree | `lightocr read --ckpt model.onnx one.png` (s) | CRNN training lines/s | lines of `lightocr/` |",
            "|---|---|---|---|"]
    rows += [f"| {name} | {r[0]:.2f} | {r[1]:.0f} | {r[2]} |" for name, r in results.items()]
    rows.append(f"| after / before | {new_read / old_read:.2f}x | {new_train / old_train:.2f}x | "
                f"{new_lines / old_lines:.2f}x |")
    print("\n".join(rows))
    if not args.no_docs:
        section = "\n".join([
            START, "## Start-up of reading (an exported model, ONNX Runtime)", "",
            f"Command: `python scripts/benchmark_startup.py --before {args.before}`  ",
            f"Median of {args.repeats} fresh processes reading one line with each tree's own exported default CRNN; "
            f"training: `configs/crnn_mobilenetv3.yaml`, batch 64, 1 process, 32-true, {args.steps} steps timed; "
            f"{os.cpu_count()} cores.", "", *rows, END])
        write_section(ROOT / "docs/benchmarks.md", section, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
