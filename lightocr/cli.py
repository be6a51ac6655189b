"""Command lines.

``lightning`` (and ``python -m lightocr`` / ``lightocr`` with a Lightning subcommand) runs LightningCLI:
``fit``, ``validate``, ``test``, ``predict`` with ``--config configs/<name>.yaml``. ``lightocr read --ckpt CKPT
IMAGE...`` prints ``path<TAB>text<TAB>confidence`` for each image.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import torch
from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.cli import LightningCLI


class LightOCRCLI(LightningCLI):
    """LightningCLI with the data module's charset and image channels linked into the task."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.charset_symbols", "model.init_args.charset", apply_on="instantiate")
        parser.link_arguments("data.case_sensitive", "model.init_args.case_sensitive", apply_on="instantiate")
        parser.link_arguments("data.init_args.channels", "model.init_args.in_chans", apply_on="parse")


def lightning_main(args: Optional[List[str]] = None) -> None:
    import lightocr.tasks  # noqa: F401  (registers the tasks and data modules as subclasses)
    import lightocr.data  # noqa: F401

    LightOCRCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                args=args, save_config_kwargs=dict(overwrite=True))


def load_task(checkpoint: str, map_location: str = "cpu"):
    """Rebuild a task from a checkpoint read with ``weights_only=True`` (no arbitrary unpickling)."""
    from .tasks import TextRecognitionTask

    try:
        state = torch.load(checkpoint, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise SystemExit(f"checkpoint not found: {checkpoint}")
    except Exception as error:
        raise SystemExit(f"cannot read checkpoint {checkpoint}: {type(error).__name__}: {error}")
    if "hyper_parameters" not in state or "state_dict" not in state:
        raise SystemExit(f"{checkpoint} is not a lightocr Lightning checkpoint (no hyper_parameters/state_dict)")
    hparams = {k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_")}
    if "charset" not in hparams:
        raise SystemExit(f"{checkpoint} is not a text-recognition checkpoint (no charset in its hyperparameters)")
    task = TextRecognitionTask(**hparams)
    task.load_state_dict(state["state_dict"])
    return task.eval()


def read_main(argv: List[str]) -> int:
    from PIL import Image  # noqa: F401
    from .data.dataset import TextLineDataset
    from .data.datamodule import ImageFilesSource
    from .data.transforms import LineCollator

    parser = argparse.ArgumentParser(prog="lightocr read", description="Read text lines with a trained checkpoint.")
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by `lightning fit`")
    parser.add_argument("images", nargs="+", help="image files or folders")
    parser.add_argument("--height", type=int, default=32)
    parser.add_argument("--max-width", type=int, default=320)
    parser.add_argument("--beam-width", type=int, default=None, help="beam search width (default: the task's)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    task = load_task(args.ckpt)
    if args.beam_width:
        task.decoder.beam_width = args.beam_width
    source = ImageFilesSource(args.images)
    if len(source) == 0:
        raise SystemExit(f"no images found in {args.images}")
    dataset = TextLineDataset(source, task.charset, args.height, args.max_width, task.hparams.in_chans,
                              require_label=False)
    collate = LineCollator(pad_to=None)
    failed = 0
    with torch.inference_mode():
        for start in range(0, len(dataset), args.batch_size):
            batch = collate([dataset[i] for i in range(start, min(start + args.batch_size, len(dataset)))])
            for skipped in batch["skipped"]:
                print(f"{skipped.key}: {skipped.reason}", file=sys.stderr)
                failed += 1
            for row in task.predict_step(batch, 0):
                print(f"{row['key']}\t{row['text']}\t{row['confidence']:.4f}")
    return 1 if failed else 0


def lightocr_main(argv: Optional[List[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "read":
        sys.exit(read_main(argv[1:]))
    lightning_main(argv)
