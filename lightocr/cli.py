"""The command-line mains, the only code that exits.

``lightning`` (and ``lightocr`` with a Lightning subcommand) runs LightningCLI (``lightocr.lightning_cli``).
``lightocr <command> --ckpt MODEL IMAGE...`` reads images with a trained model, the command being the task's
(``TaskSpec.command``: ``read`` for text lines, ``classify`` for images), and prints one
``path<TAB>text<TAB>confidence`` line per image. ``lightocr export`` writes a checkpoint of any task to ONNX.
Reading an exported file imports neither torch nor Lightning.
"""
import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import List, Optional

from .errors import LightOCRError, TrainingStopped

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")  # lightocr <these> is the lightning command


@contextlib.contextmanager
def errors_as_messages():
    """The command lines' ending for what a user can fix: lightocr's errors become their message on stderr and
    their exit code (143 for a run stopped by SIGTERM after saving), not a traceback. Output whose reader went
    away (``lightocr read page.png | head -1``) ends the command quietly, as SIGPIPE ends a Unix tool (exit 141)."""
    try:
        try:
            yield
        finally:
            sys.stdout.flush()  # so a reader that went away is met here, not in the interpreter's exit
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left for the exit to flush into
        sys.exit(128 + signal.SIGPIPE)
    except TrainingStopped as stopped:
        print(f"lightocr: {stopped}", file=sys.stderr)
        sys.exit(stopped.exit_code)
    except LightOCRError as error:
        print(f"lightocr: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except SystemExit as stop:  # Lightning's SIGTERMException, raised before lightocr's LastCheckpoint could save
        exceptions = sys.modules.get("lightning.pytorch.utilities.exceptions")
        if exceptions is None or not isinstance(stop, exceptions.SIGTERMException):
            raise
        print("lightocr: stopped by SIGTERM before lightocr's LastCheckpoint could save the step reached; the newest "
              "checkpoint is the one written before the signal", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)


def lightning_main(args: Optional[List[str]] = None) -> None:
    from lightning.pytorch import LightningDataModule, LightningModule

    from .lightning_cli import LightOCRCLI, LoggedConfigCallback
    from .tasks.registry import all_tasks, import_object

    with errors_as_messages():
        for spec in all_tasks():  # their LightningModules and data modules, as subclasses LightningCLI can name
            import_object(spec.task_class)
        import lightocr.data.classification  # noqa: F401
        import lightocr.data.recognition  # noqa: F401
        import lightocr.data.detection  # noqa: F401
        LightOCRCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                    args=args, save_config_callback=LoggedConfigCallback, save_config_kwargs=dict(overwrite=True))


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """The options of how a model runs, shared by every reading command."""
    from .predictor import ENGINES
    parser.add_argument("--engine", choices=ENGINES, default=None,
                        help="torch (default for a checkpoint) or onnxruntime (default for an .onnx file and the "
                             "shipped models; a checkpoint is exported in memory)")
    parser.add_argument("--compile", action="store_true", help="torch engine: wrap the network in torch.compile")
    parser.add_argument("--no-optimize", action="store_true",
                        help="torch engine: run the network as trained (no BatchNorm folding, no channels_last)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime engine: intra-op threads")
    parser.add_argument("--batch-size", type=int, default=32)


def print_rows(predictor, images: List[str], batch_size: int) -> int:
    """Print a task predictor's ``path<TAB>text<TAB>confidence`` rows; an image that cannot be read is named on
    stderr. Returns the exit code: 1 when an image could not be read."""
    from .data.samples import SkippedSample
    from .predictor import tsv_line

    failed = 0
    for pairs in predictor.results(images, batch_size):
        for key, value in pairs:
            if isinstance(value, SkippedSample):
                print(f"{key}: {value.reason}", file=sys.stderr)
                failed += 1
            else:
                for row in predictor.rows(key, value):
                    print(tsv_line(row))
    return 1 if failed else 0


def task_main(argv: List[str], command: str) -> int:
    """``lightocr <command> --ckpt MODEL IMAGE...`` of a task (``classify``, ``detect``, ...): one
    ``path<TAB>text<TAB>confidence`` line per image (or per box); an image that cannot be read is named on
    stderr and the exit code is 1."""
    from .predictor import open_predictor
    from .tasks.registry import find_task, import_object

    spec = find_task(command=command)
    parser = argparse.ArgumentParser(prog=f"lightocr {command}", description=f"{spec.summary}. Images are shaped "
                                     "as the model was trained (the input settings saved with it).")
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by `lightning fit`, or a model "
                        "exported by `lightocr export` (.onnx)")
    parser.add_argument("images", nargs="+", help="image files or folders")
    add_engine_options(parser)
    own = import_object(spec.predictor).add_options(parser)
    args = parser.parse_args(argv)
    predictor = open_predictor(args.ckpt, spec.name, args.engine, not args.no_optimize, args.compile, args.threads,
                               **{name: getattr(args, name) for name in own if getattr(args, name) is not None})
    return print_rows(predictor, args.images, args.batch_size)


def read_main(argv: List[str]) -> int:
    """``lightocr read``: pages read by a detector and a recognizer (``lightocr.PageReader``), one
    ``path<TAB>line<TAB>x1,y1,...,x4,y4<TAB>text<TAB>confidence`` row per text line in reading order; with
    ``--rec`` (or ``--ckpt``) alone, images of single lines read by the recognizer, one
    ``path<TAB>text<TAB>confidence`` row each. A page or image that cannot be read is named on stderr and the
    exit code is 1; a page without text is noted on stderr."""
    import dataclasses
    import json

    from .page_reader import RECOGNITION, PageReader, as_document, draw_page, tsv_lines
    from .predictor import open_predictor, picture_name
    from .pretrained import DEFAULT_DETECTOR, DEFAULT_RECOGNIZER
    from .tasks.detection.predictor import DetectionPredictor
    from .tasks.recognition.predictor import TextPredictor

    parser = argparse.ArgumentParser(prog="lightocr read", description=(
        "Read the text of pages: a text detector finds the lines, each is cut out upright and read by a text "
        "recognizer, and the lines are printed in reading order. With neither --det nor --rec, the models that "
        f"ship with lightocr ({DEFAULT_DETECTOR}, {DEFAULT_RECOGNIZER}). With --rec alone, each image is one "
        "text line, read as it is."))
    parser.add_argument("images", nargs="+", help="image files or folders")
    parser.add_argument("--det", default=None, help="text detector: a checkpoint, an exported .onnx file or a "
                        f"shipped model's name (default {DEFAULT_DETECTOR})")
    parser.add_argument("--rec", "--ckpt", dest="rec", default=None, help="text recognizer: a checkpoint, an "
                        f"exported .onnx file or a shipped model's name (default {DEFAULT_RECOGNIZER}); given "
                        "alone, the images are single lines")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tab-separated rows")
    parser.add_argument("--draw", default=None, metavar="DIR",
                        help="write each page to DIR/<image name>.png with its lines' boxes and text drawn")
    add_engine_options(parser)
    own = TextPredictor.add_options(parser)
    DetectionPredictor.add_scale_options(parser)
    args = parser.parse_args(argv)
    options = {name: getattr(args, name) for name in own}
    if args.rec is not None and args.det is None:
        recognizer = open_predictor(args.rec, RECOGNITION, args.engine,
                                    not args.no_optimize, args.compile, args.threads, **options)
        return print_rows(recognizer, args.images, args.batch_size)

    reader = PageReader(args.det, args.rec, args.engine, args.batch_size, args.threads, not args.no_optimize,
                        args.compile, text_height=args.text_height, **options)
    if args.draw:
        Path(args.draw).mkdir(parents=True, exist_ok=True)
    failed, results = 0, []
    for result in reader.read(args.images):
        if args.json:
            results.append(dataclasses.replace(result, image=None))  # the lines, not the pages, kept
        if result.error is not None:
            print(f"{result.key}: {result.error}", file=sys.stderr)
            failed += 1
            continue
        if not result.lines:
            print(f"{result.key}: no text found", file=sys.stderr)
        if args.draw:
            draw_page(result.image, result.lines).save(Path(args.draw) / picture_name(result.key))
        if not args.json:
            for row in tsv_lines(result):
                print(row)
    if args.json:
        print(json.dumps(as_document(results), ensure_ascii=False, indent=1))
    return 1 if failed else 0


def export_main(argv: List[str]) -> int:
    """``lightocr export``: a checkpoint of any task to ONNX, with its predictor's metadata."""
    from .export import DEFAULT_OPSET, export_task, quantize_int8
    from .tasks.registry import load_task

    parser = argparse.ArgumentParser(prog="lightocr export", description="Export a checkpoint of any task (text "
                                     "recognition, image classification, ...) to ONNX with a dynamic batch (and "
                                     "line width), carrying what its reader needs as metadata; read it with "
                                     "`lightocr read --ckpt model.onnx` (or the task's own command).")
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by `lightning fit`")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--int8", action="store_true",
                        help="also write <out>.int8.onnx, dynamically quantized to int8 by ONNX Runtime's tools")
    args = parser.parse_args(argv)
    out = export_task(load_task(args.ckpt), args.out, args.opset)
    print(f"wrote {out}")
    if args.int8:
        print(f"wrote {quantize_int8(out, out.with_suffix('.int8.onnx'))}")
    return 0


def lightocr_main(argv: Optional[List[str]] = None) -> None:
    from .tasks.registry import find_task

    words = sys.argv[1:] if argv is None else argv
    with errors_as_messages():
        if words and words[0] == "export":
            sys.exit(export_main(words[1:]))
        if words and words[0] not in LIGHTNING_SUBCOMMANDS and not words[0].startswith("-") and \
                find_task(command=words[0]) is not None:
            sys.exit(read_main(words[1:]) if words[0] == "read" else task_main(words[1:], words[0]))
    lightning_main(argv)
