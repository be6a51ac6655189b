"""Command lines.

``lightning`` (and ``python -m lightocr`` / ``lightocr`` with a Lightning subcommand) runs LightningCLI:
``fit``, ``validate``, ``test``, ``predict`` with ``--config configs/<name>.yaml``. ``lightocr read --ckpt CKPT
IMAGE...`` prints ``path<TAB>text<TAB>confidence`` for each image.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

import torch
import yaml
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback

from .loggers import ensure_wandb_mode


# What every task's run gets unless its YAML says otherwise: W&B logging (offline without credentials), the
# best checkpoint by the task's main validation metric (``val/score``) plus ``last.ckpt`` (also on Ctrl-C,
# max_steps and max_time), the learning rate in the logs, and a table of sample predictions.
SHARED_TRAINER_DEFAULTS = {
    "trainer.logger": dict(class_path="lightning.pytorch.loggers.WandbLogger",
                           init_args=dict(project="lightocr", save_dir="runs", log_model=False)),
    "trainer.callbacks": [
        dict(class_path="lightning.pytorch.callbacks.ModelCheckpoint",
             init_args=dict(monitor="val/score", mode="max", save_last=True, auto_insert_metric_name=False,
                            filename="step{step}-score{val/score:.4f}")),
        dict(class_path="lightning.pytorch.callbacks.LearningRateMonitor", init_args=dict(logging_interval="step")),
        dict(class_path="lightocr.callbacks.LastCheckpointOnExit"),
        dict(class_path="lightocr.callbacks.PredictionSamples"),
    ],
}


class LoggedConfigCallback(SaveConfigCallback):
    """Save ``config.yaml`` as LightningCLI does, and log the full resolved config to W&B runs."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        from lightning.pytorch.loggers import WandbLogger

        loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
        if loggers and trainer.is_global_zero:
            config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
            for logger in loggers:
                logger.experiment.config.update(config, allow_val_change=True)


class LightOCRCLI(LightningCLI):
    """LightningCLI with the data module's charset and image channels linked into the task, W&B offline
    without credentials, and checkpoint files checked before a run starts."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.set_defaults(SHARED_TRAINER_DEFAULTS)
        parser.link_arguments("data.charset_symbols", "model.init_args.charset", apply_on="instantiate")
        parser.link_arguments("data.case_sensitive", "model.init_args.case_sensitive", apply_on="instantiate")
        parser.link_arguments("data.init_args.channels", "model.init_args.in_chans", apply_on="parse")

    def _run_config(self):
        subcommand = self.config.get("subcommand")
        return self.config.get(subcommand) if subcommand else self.config

    def before_instantiate_classes(self) -> None:
        config = self._run_config()
        logger = config.get("trainer", {}).get("logger")
        loggers = logger if isinstance(logger, list) else [logger]
        wandb_loggers = [item for item in loggers if "Wandb" in str(getattr(item, "class_path", ""))]
        if wandb_loggers:
            ensure_wandb_mode(wandb_loggers[0].init_args.get("save_dir"))
        check_cpu_devices(config.get("trainer", {}))

    def parse_arguments(self, parser, args) -> None:
        super().parse_arguments(parser, args)
        # before LightningCLI reads the checkpoint's hyperparameters, and before any training
        checkpoint = self._run_config().get("ckpt_path")
        if checkpoint and checkpoint not in ("last", "best", "hpc", "registry"):
            check_checkpoint_file(checkpoint)


def check_cpu_devices(trainer_config) -> None:
    """On the CPU, Lightning starts one DDP process per device whatever the core count: refuse more processes
    than cores (GPUs are checked by Lightning itself)."""
    accelerator, devices = trainer_config.get("accelerator", "auto"), trainer_config.get("devices", "auto")
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    cores = os.cpu_count() or 1
    if on_cpu and isinstance(devices, int) and devices > cores:
        raise SystemExit(f"trainer.devices={devices} asks for {devices} CPU processes, but this machine has {cores} "
                         f"cores; use at most {cores} (or a GPU accelerator)")


def check_checkpoint_file(path: str) -> None:
    """Fail now, naming the file, if a checkpoint is missing or unreadable (not ten minutes into a run)."""
    if not Path(path).is_file():
        raise SystemExit(f"checkpoint not found: {path}")
    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as error:
        raise SystemExit(f"cannot read checkpoint {path}: {type(error).__name__}: {error}")


def lightning_main(args: Optional[List[str]] = None) -> None:
    import lightocr.tasks  # noqa: F401  (registers the tasks and data modules as subclasses)
    import lightocr.data  # noqa: F401

    LightOCRCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                args=args, save_config_callback=LoggedConfigCallback, save_config_kwargs=dict(overwrite=True))


def load_task(checkpoint: str, map_location: str = "cpu"):
    """Rebuild a task from a checkpoint read with ``weights_only=True`` (no arbitrary unpickling)."""
    from .tasks import TextRecognitionTask

    check_checkpoint_file(checkpoint)
    state = torch.load(checkpoint, map_location=map_location, weights_only=True)
    if "hyper_parameters" not in state or "state_dict" not in state:
        raise SystemExit(f"{checkpoint} is not a lightocr Lightning checkpoint (no hyper_parameters/state_dict)")
    hparams = {k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_")}
    if "charset" not in hparams:
        raise SystemExit(f"{checkpoint} is not a text-recognition checkpoint (no charset in its hyperparameters)")
    task = TextRecognitionTask(**hparams)
    task.load_state_dict(state["state_dict"])
    return task.eval()


def read_main(argv: List[str]) -> int:
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
    words = sys.argv[1:] if argv is None else argv
    if words and words[0] == "read":
        sys.exit(read_main(words[1:]))
    lightning_main(argv)
