"""Command lines.

``lightning`` (and ``python -m lightocr`` / ``lightocr`` with a Lightning subcommand) runs LightningCLI:
``fit``, ``validate``, ``test``, ``predict`` with ``--config configs/<name>.yaml``, each launch in its own run
folder (``lightocr.runs``). ``lightocr read --ckpt CKPT IMAGE...`` prints ``path<TAB>text<TAB>confidence`` for
each image, shaping the images as the checkpoint was trained.
"""

import argparse
import contextlib
import inspect
import os
import signal
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
import yaml
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from .checkpoints import read_checkpoint, resume_candidates
from .errors import CheckpointError, ConfigError, LightOCRError, TrainingStopped
from .loggers import ensure_wandb_mode
from .runs import (RUN_DIR_ENV, WANDB_ID_ENV, RunLock, fixed_run_dir, is_global_zero, latest_resumable, new_version,
                   new_wandb_id, run_of_checkpoint, wandb_run_id)


# What every task's run gets unless its YAML says otherwise: W&B logging (offline without credentials), the
# best checkpoint by the task's main validation metric (``val/score``), ``last.ckpt`` at every validation (also on
# Ctrl-C, SIGTERM, max_steps and max_time; ``lightocr.checkpoints.LastCheckpoint``), the learning rate in the
# logs, a table of sample predictions, and the predictions of ``lightning predict`` in a file. Where each run
# writes is set per launch (``lightocr.runs``).
SHARED_TRAINER_DEFAULTS = {
    "trainer.logger": dict(class_path="lightning.pytorch.loggers.WandbLogger",
                           init_args=dict(project="lightocr", log_model=False)),
    "trainer.callbacks": [
        dict(class_path="lightning.pytorch.callbacks.ModelCheckpoint",
             init_args=dict(monitor="val/score", mode="max", save_last=False, auto_insert_metric_name=False,
                            filename="step{step}-score{val/score:.4f}")),
        dict(class_path="lightning.pytorch.callbacks.LearningRateMonitor", init_args=dict(logging_interval="step")),
        dict(class_path="lightocr.checkpoints.LastCheckpoint"),
        dict(class_path="lightocr.callbacks.PredictionSamples"),
        dict(class_path="lightocr.callbacks.PredictionWriter"),
    ],
}
# what each task's data module hands the task, so that no value is written twice in a config:
# (source, target, when LightningCLI applies the link)
TASK_LINKS = {
    "TextRecognitionTask": (
        ("data.charset_symbols", "model.init_args.charset", "instantiate"),
        ("data.case_sensitive", "model.init_args.case_sensitive", "instantiate"),
        ("data.input_geometry", "model.init_args.input_geometry", "instantiate"),
        ("data.init_args.channels", "model.init_args.in_chans", "parse")),
    "ImageClassificationTask": (
        ("data.class_names", "model.init_args.classes", "instantiate"),
        ("data.input_settings", "model.init_args.input_settings", "instantiate"),
        ("data.init_args.channels", "model.init_args.in_chans", "parse"),
        ("model.init_args.backbone", "data.init_args.backbone", "parse")),
}
# what a resumed run must share with the run that wrote its checkpoint (the network and the data's shape)
RESUME_MUST_MATCH = ("backbone", "backbone_kwargs", "level", "stage_strides", "neck", "neck_kwargs", "in_chans",
                     "charset", "case_sensitive", "input_geometry")


class LoggedConfigCallback(SaveConfigCallback):
    """Save ``config.yaml`` in the run folder as LightningCLI does, log the full resolved config to W&B runs,
    and note in every checkpoint which config files wrote it."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        from lightning.pytorch.loggers import WandbLogger

        loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
        if loggers and trainer.is_global_zero:
            config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
            for logger in loggers:
                logger.experiment.config.update(config, allow_val_change=True)

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict) -> None:
        checkpoint["lightocr_config"] = [str(path) for path in self.config.get("config") or []]


class LightOCRCLI(LightningCLI):
    """LightningCLI with the data module's settings linked into the task (``TASK_LINKS``: the charset, channels
    and input geometry of text recognition; the class list and input settings of classification), one run folder
    per launch (``lightocr.runs``), W&B offline without credentials, and checkpoints and device counts checked
    before a run starts. The task is read from the command line's model ``class_path`` before parsing."""

    def __init__(self, *args: Any, **kwargs: Any):
        words = kwargs.get("args")
        # the command line with its config files' bases, read once: the task is picked from it, then it is parsed
        self.expanded_args = (expand_config_bases(sys.argv[1:] if words is None else list(words))
                              if words is None or isinstance(words, (list, tuple)) else None)
        self.task_name = task_of(self.expanded_args or [])
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--base", type=Optional[str], default=None,
                            help="in a config file: the config file it extends (a path relative to it), read first")
        parser.set_defaults(SHARED_TRAINER_DEFAULTS)
        for source, target, when in TASK_LINKS[self.task_name]:
            parser.link_arguments(source, target, apply_on=when)

    def _run_config(self):
        subcommand = self.config.get("subcommand")
        return self.config.get(subcommand) if subcommand else self.config

    def _run_root(self) -> Path:
        """``trainer.default_root_dir``, else ``runs/<name of the last config file>`` (the most specific one)."""
        config = self._run_config()
        if config.trainer.get("default_root_dir"):
            return Path(config.trainer.default_root_dir)
        files = config.get("config") or []
        return Path("runs") / (Path(str(files[-1])).stem if files else "lightocr")

    def parse_arguments(self, parser, args) -> None:
        if self.expanded_args is not None:
            self.config = parser.parse_args(self.expanded_args)
        else:
            super().parse_arguments(parser, args)
        # before LightningCLI reads the checkpoint's hyperparameters, and before any training
        config = self._run_config()
        config.base = None  # already read: the saved config.yaml holds the resolved whole
        checkpoint = config.get("ckpt_path")
        self.resume_dir: Optional[Path] = None
        fixed = fixed_run_dir()
        if checkpoint in ("last", "auto"):
            where = fixed or self._run_root()
            previous = fixed if fixed else latest_resumable(where)
            resume_from = newest_checkpoint(previous) if previous else None
            if resume_from is None and checkpoint == "last":
                raise CheckpointError(
                    f"--ckpt_path last: no earlier run under {where} has a checkpoint. Leave out --ckpt_path to "
                    f"start a new run, or use --ckpt_path auto to resume when there is one.")
            config.ckpt_path = str(resume_from) if resume_from else None
            self.resume_dir = previous if resume_from else None
        elif checkpoint and checkpoint not in ("best", "hpc", "registry"):
            self.resume_dir = run_of_checkpoint(Path(checkpoint), self._run_root())
        if config.get("ckpt_path") and config.ckpt_path not in ("best", "hpc", "registry"):
            state = read_checkpoint(Path(config.ckpt_path))  # fails now, not ten minutes into a run
            if self.config.get("subcommand") == "fit":
                check_same_setup(config, config.ckpt_path, state)
            else:
                use_checkpoint_geometry(config, state)

    def before_instantiate_classes(self) -> None:
        config = self._run_config()
        check_cpu_devices(config.get("trainer", {}))
        self.run_lock: Optional[RunLock] = None
        if self.subcommand is not None:  # a real run (not run=False): give it its folder
            self.run_dir = self._prepare_run_folder(config)

    def _prepare_run_folder(self, config) -> Path:
        """Choose the run folder (or take the one the environment names) and point the logger and the callbacks
        at it; the processes that Lightning's DDP launcher starts inherit it through the environment."""
        fixed = fixed_run_dir()
        resuming = self.subcommand == "fit" and self.resume_dir is not None
        run_dir = fixed or (self.resume_dir if resuming else new_version(self._run_root()))
        wandb_id = os.environ.get(WANDB_ID_ENV) or (wandb_run_id(run_dir) if resuming else None) or new_wandb_id()
        self._saved_environment = {key: os.environ.get(key) for key in (RUN_DIR_ENV, WANDB_ID_ENV)}
        os.environ[RUN_DIR_ENV], os.environ[WANDB_ID_ENV] = str(run_dir), wandb_id
        config.trainer.default_root_dir = str(run_dir)
        logger = config.trainer.get("logger")
        for item in logger if isinstance(logger, list) else [logger]:
            init_args = getattr(item, "init_args", None)
            kind = str(getattr(item, "class_path", ""))
            if init_args is None:
                continue
            if kind.endswith("WandbLogger"):
                if init_args.save_dir in (None, "", "."):  # WandbLogger's default: the working directory
                    init_args.save_dir = str(run_dir)
                init_args.name = init_args.name or f"{run_dir.parent.name}/{run_dir.name}"
                init_args.id = init_args.id or wandb_id
                init_args.resume = init_args.resume or ("allow" if resuming else None)
                ensure_wandb_mode(init_args.save_dir)
            elif kind.endswith(("TensorBoardLogger", "CSVLogger")):
                init_args.save_dir, init_args.name, init_args.version = str(run_dir.parent), "", run_dir.name
        callbacks = config.trainer.get("callbacks") or []
        if not logger:  # --trainer.logger=false: the LR monitor, which needs a logger, goes too
            callbacks = [c for c in callbacks if not str(getattr(c, "class_path", "")).endswith("LearningRateMonitor")]
        # a LastCheckpoint added on the command line (other settings) replaces the default one: one signal handler
        lasts = [i for i, c in enumerate(callbacks) if str(getattr(c, "class_path", "")).endswith(".LastCheckpoint")]
        config.trainer.callbacks = [c for i, c in enumerate(callbacks) if i not in lasts[:-1]]
        for callback in config.trainer.callbacks or []:
            if str(getattr(callback, "class_path", "")).endswith("ModelCheckpoint") and not callback.init_args.dirpath:
                callback.init_args.dirpath = str(run_dir / "checkpoints")
        if is_global_zero():
            run_dir.mkdir(parents=True, exist_ok=True)
            if self.subcommand == "fit":  # one live process trains a run folder at a time
                self.run_lock = RunLock(run_dir).acquire()
            rank_zero_info(f"run folder: {run_dir}" + (f" (resuming {config.ckpt_path})" if resuming else ""))
        return run_dir

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        finally:  # a later run in this Python process chooses its own folder
            if getattr(self, "run_lock", None) is not None:
                self.run_lock.release()
            for key, value in getattr(self, "_saved_environment", {}).items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _plain(value):
    """Namespaces, tuples and lists as plain dicts and lists, for comparing a config with saved values."""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def data_view(config) -> Dict[str, object]:
    """The charset and input geometry a config's data module would give the task (without building it)."""
    from .data.transforms import LineGeometry
    from .ocr.charset import Charset

    data = config.data.get("init_args") or {}
    charset = Charset.from_spec(data.get("charset", "alnum36"), data.get("case_sensitive"))
    geometry = LineGeometry(**{k: data[k] for k in ("height", "max_width", "channels", "pad_to") if k in data})
    return dict(charset=charset.symbols, case_sensitive=charset.case_sensitive, input_geometry=geometry.as_dict())


def check_same_setup(config, checkpoint: str, state: dict) -> None:
    """Refuse to resume a checkpoint whose network or data shape differs from this run's config, naming both
    configs and the first differences (the checkpoint's hyperparameters would otherwise replace the config's)."""
    saved = state.get("hyper_parameters") or {}
    if not saved:
        return
    ours = dict(_plain(config.model.get("init_args") or {}))
    ours.update(data_view(config))
    differences = [f"{key}: checkpoint {_plain(saved[key])!r}, config {ours[key]!r}" for key in RESUME_MUST_MATCH
                   if key in saved and key in ours and _plain(saved[key]) != ours[key]]
    if differences:
        theirs = ", ".join(state.get("lightocr_config") or []) or "an unknown config"
        mine = ", ".join(str(p) for p in config.get("config") or []) or "the command line"
        raise CheckpointError(
            f"cannot resume {checkpoint}: it was written by a run of {theirs}, and this run's config ({mine}) "
            f"differs in " + "; ".join(differences[:3]) + ". Resume with the config that wrote it, or start a new "
            "run without --ckpt_path.")


def use_checkpoint_geometry(config, state: dict) -> None:
    """``validate``, ``test`` and ``predict`` shape their inputs as the checkpoint was trained: a recognition
    checkpoint's input geometry, a classification checkpoint's input settings and evaluation transforms."""
    saved = state.get("hyper_parameters") or {}
    data = config.get("data", {}).get("init_args")
    if data is None:
        return
    if saved.get("input_geometry"):
        values = {key: saved["input_geometry"][key] for key in ("height", "max_width", "channels", "pad_to")}
    elif saved.get("input_settings"):
        inputs = saved["input_settings"]
        values = dict(input_size=inputs["size"], channels=inputs["channels"], mean=inputs["mean"], std=inputs["std"],
                      crop_pct=inputs["crop_pct"], eval_transforms=inputs["eval_transforms"])
    else:
        return
    for key, value in values.items():
        if key in data and _plain(data[key]) != _plain(value):
            rank_zero_info(f"data.{key}={_plain(data[key])!r} replaced by the checkpoint's {_plain(value)!r}")
        data[key] = value


def requested_devices(devices) -> Optional[int]:
    """How many processes ``trainer.devices`` asks for (an int, ``"3"``, ``"0,1"``, a list), or None for auto."""
    if isinstance(devices, str):
        devices = devices.strip()
        if devices == "auto" or devices == "-1":
            return None
        devices = [d for d in devices.split(",") if d.strip()] if "," in devices else int(devices)
    if isinstance(devices, (list, tuple)):
        return len(devices)
    return devices if isinstance(devices, int) and devices > 0 else None


def check_cpu_devices(trainer_config) -> None:
    """On the CPU, Lightning starts one DDP process per device whatever the core count: refuse more processes
    than cores (GPUs are checked by Lightning itself)."""
    accelerator = trainer_config.get("accelerator", "auto")
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    cores = os.cpu_count() or 1
    devices = requested_devices(trainer_config.get("devices", "auto"))
    if on_cpu and devices is not None and devices > cores:
        raise ConfigError(f"trainer.devices={devices} asks for {devices} CPU processes, but this machine has {cores} "
                          f"cores; use at most {cores} (or a GPU accelerator)")


def newest_checkpoint(run_dir: Path) -> Optional[Path]:
    """The checkpoint of a run folder to resume from: the newest by step of its hpc, last and best checkpoints
    that loads. One that does not load is reported, naming it and the one used instead."""
    candidates, problems = resume_candidates(run_dir)
    if problems and not candidates:
        raise CheckpointError(f"no checkpoint of {run_dir} loads: " + "; ".join(problems))
    if not candidates:
        return None
    step, path = candidates[0]
    for problem in problems:
        rank_zero_warn(f"{problem}; resuming from {path} (step {step}), the newest checkpoint of {run_dir} that loads")
    return path


def read_config_file(path: Path) -> dict:
    """A config file's settings; ``ConfigError`` naming the file for YAML that does not parse (with the line and
    column) or that does not hold a mapping of settings."""
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a config file holds settings by name (trainer:, model:, data:, ...), but this "
                          f"one holds a {type(values).__name__}")
    return values


def config_bases(path: Path, seen: Tuple[Path, ...] = ()) -> List[str]:
    """The config files that ``path`` extends through its ``base:`` key, the most general first."""
    if not path.is_file() or path.suffix not in (".yaml", ".yml"):
        return []
    base = read_config_file(path).get("base")
    if not base:
        return []
    base_path = (path.parent / base).resolve()
    if base_path in seen:
        raise ConfigError(f"{path}: its base {base} extends it again (a cycle)")
    if not base_path.is_file():
        raise ConfigError(f"{path}: base config {base} not found (looked for {base_path})")
    return config_bases(base_path, seen + (base_path,)) + [str(base_path)]


def task_of(args: List[str]) -> str:
    """The task a command line runs: the last model ``class_path`` of its config files and ``--model`` options
    (text recognition when none names one)."""
    task = "TextRecognitionTask"
    words = iter(args)
    for word in words:
        option, _, value = word.partition("=")
        if option in ("--config", "--model", "--model.class_path") and not value:
            value = next(words, "")
        if option == "--config" and Path(value).is_file():
            model = read_config_file(Path(value)).get("model")
            value = model.get("class_path", "") if isinstance(model, dict) else ""
        elif option not in ("--model", "--model.class_path"):
            continue
        name = str(value).rsplit(".", 1)[-1]
        task = name if name in TASK_LINKS else task
    return task


def expand_config_bases(args: List[str]) -> List[str]:
    """Put ``--config BASE`` before every ``--config FILE`` whose YAML names a ``base:``, so that a config
    file holds only what differs from the one it extends (later files override earlier ones)."""
    expanded, words = [], iter(args)
    for word in words:
        if word == "--config":
            value = next(words, None)
            if value is None:
                expanded.append(word)
                break
            prefix = []
        elif word.startswith("--config="):
            value, prefix = word.split("=", 1)[1], []
        else:
            expanded.append(word)
            continue
        for base in config_bases(Path(value)):
            prefix += ["--config", base]
        expanded += prefix + ["--config", value]
    return expanded


def lightning_main(args: Optional[List[str]] = None) -> None:
    import lightocr.tasks  # noqa: F401  (registers the tasks and data modules as subclasses)
    import lightocr.data  # noqa: F401

    with errors_as_messages():
        LightOCRCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                    args=args, save_config_callback=LoggedConfigCallback, save_config_kwargs=dict(overwrite=True))


@contextlib.contextmanager
def errors_as_messages():
    """The command lines' ending for what a user can fix: lightocr's errors become their message on stderr and
    their exit code (143 for a run stopped by SIGTERM after saving), not a traceback."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    try:
        yield
    except TrainingStopped as stopped:
        print(f"lightocr: {stopped}", file=sys.stderr)
        sys.exit(stopped.exit_code)
    except SIGTERMException:  # handled by Lightning (before training started, or without LastCheckpoint)
        print("lightocr: stopped by SIGTERM before lightocr's LastCheckpoint could save the step reached; the newest "
              "checkpoint is the one written before the signal", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)
    except LightOCRError as error:
        print(f"lightocr: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)


# the hyperparameter that tells each task's checkpoints apart, and what its command line does with images
TASK_MARKS = {"TextRecognitionTask": ("charset", "text-recognition", "read"),
              "ImageClassificationTask": ("classes", "image-classification", "classify")}


def load_task(checkpoint: str, task_name: str = "TextRecognitionTask", map_location: str = "cpu"):
    """Rebuild a task of kind ``task_name`` from a checkpoint read with ``weights_only=True`` (no arbitrary
    unpickling); a checkpoint of another task is refused, naming the command that reads it."""
    from . import tasks

    state = read_checkpoint(Path(checkpoint))
    if not isinstance(state, dict) or "hyper_parameters" not in state or "state_dict" not in state:
        raise CheckpointError(f"{checkpoint} is not a lightocr Lightning checkpoint (no hyper_parameters/state_dict)")
    hparams = {k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_")}
    mark, kind, _ = TASK_MARKS[task_name]
    if mark not in hparams:
        other = next((f" (a {k} checkpoint: use `lightocr {c}`)" for m, k, c in TASK_MARKS.values() if m in hparams),
                     "")
        raise CheckpointError(f"{checkpoint} is not a {kind} checkpoint (no {mark} in its hyperparameters){other}")
    task_class = getattr(tasks, task_name)
    unknown = sorted(set(hparams) - task_settings(task_class))
    if unknown:
        raise CheckpointError(f"{checkpoint} was written by another version of lightocr: this version's {task_name} "
                              f"has no setting {', '.join(unknown)}")
    try:
        task = task_class(**hparams)
    except (TypeError, ValueError, KeyError, RuntimeError) as error:
        raise CheckpointError(f"{checkpoint}: its settings do not build this version's {task_name} "
                              f"({type(error).__name__}: {error})") from None
    missing, unexpected = task.load_state_dict(state["state_dict"], strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{checkpoint} was written by another version of lightocr: its weights do not fit this version's "
            f"{task_name} network ({len(missing)} missing, e.g. {missing[:3]}; {len(unexpected)} unexpected, e.g. "
            f"{unexpected[:3]})")
    return task.to(map_location).eval()


def task_settings(task_class) -> set:
    """The keyword settings a task class takes, its base classes' included."""
    names = set()
    for klass in task_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= {name for name, p in inspect.signature(init).parameters.items()
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"}
    return names


def open_reader(model: str, task_name: str, engine: Optional[str] = None, optimize: bool = True,
                compile: bool = False, beam_width: Optional[int] = None, threads: Optional[int] = None):
    """A reader (``lightocr.inference``) of a checkpoint or an exported ``.onnx`` file, run by ``engine``
    (default: PyTorch for a checkpoint, ONNX Runtime for an exported file). PyTorch reads with BatchNorm folded
    and channels_last unless ``optimize=False``; a checkpoint given to ONNX Runtime is exported in memory."""
    from .inference import check_engine, export_in_memory, open_onnx, optimize_for_inference

    _, kind, _ = TASK_MARKS[task_name]
    exported = Path(model).suffix.lower() == ".onnx"
    engine = engine or ("onnxruntime" if exported else "torch")
    check_engine(engine)
    if exported and engine == "torch":
        raise ConfigError(f"{model} is an exported ONNX file: read it with --engine onnxruntime (or give the "
                          f"checkpoint it came from to --engine torch)")
    if exported:
        return open_onnx(model, kind, threads, beam_width=beam_width)
    task = load_task(model, task_name)
    if beam_width:
        task.decoder.beam_width = beam_width
    if engine == "onnxruntime":
        return open_onnx(export_in_memory(task), kind, threads, beam_width=beam_width)
    return optimize_for_inference(task, compile=compile) if optimize else task


def read_main(argv: List[str], task_name: str = "TextRecognitionTask") -> int:
    """``lightocr read`` (text lines) and ``lightocr classify`` (images): one ``path<TAB>text<TAB>confidence``
    line per image."""
    from .data.sources import ImageFilesSource
    from .inference import ENGINES
    from .tasks import predict_source
    from .tasks.base import tsv_line

    _, _, command = TASK_MARKS[task_name]
    what = ("Read text lines with a trained model: one line per image, path<TAB>text<TAB>confidence"
            if command == "read" else
            "Classify images with a trained model: one line per image, path<TAB>class<TAB>probability")
    parser = argparse.ArgumentParser(prog=f"lightocr {command}", description=f"{what}. Images are shaped as the "
                                     "model was trained (the input settings saved with it).")
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by `lightning fit`, or a model "
                        "exported by `lightocr export` (.onnx)")
    parser.add_argument("images", nargs="+", help="image files or folders")
    parser.add_argument("--engine", choices=ENGINES, default=None,
                        help="torch (default for a checkpoint) or onnxruntime (default for an .onnx file; a "
                             "checkpoint is exported in memory)")
    parser.add_argument("--compile", action="store_true", help="torch engine: wrap the network in torch.compile")
    parser.add_argument("--no-optimize", action="store_true",
                        help="torch engine: run the network as trained (no BatchNorm folding, no channels_last)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime engine: intra-op threads")
    if command == "read":
        parser.add_argument("--beam-width", type=int, default=None, help="beam search width (default: the model's)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    reader = open_reader(args.ckpt, task_name, args.engine, not args.no_optimize, args.compile,
                         getattr(args, "beam_width", None), args.threads)
    source = ImageFilesSource(args.images)
    if len(source) == 0:
        raise SystemExit(f"no images found in {args.images}")
    failed = 0
    for rows, batch in predict_source(reader, source, args.batch_size):
        for skipped in batch["skipped"]:
            print(f"{skipped.key}: {skipped.reason}", file=sys.stderr)
            failed += 1
        for row in rows:
            print(tsv_line(row))
    return 1 if failed else 0


def export_main(argv: List[str]) -> int:
    """``lightocr export``: a checkpoint of either task to ONNX, with its reader's metadata."""
    from .export import DEFAULT_OPSET, export_task, quantize_int8

    parser = argparse.ArgumentParser(prog="lightocr export", description="Export a checkpoint (text recognition "
                                     "or image classification) to ONNX with a dynamic batch (and line width), "
                                     "carrying what a reader needs as metadata; read it with `lightocr read "
                                     "--ckpt model.onnx`.")
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by `lightning fit`")
    parser.add_argument("--out", required=True, help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--int8", action="store_true",
                        help="also write <out>.int8.onnx, dynamically quantized to int8 by ONNX Runtime's tools")
    args = parser.parse_args(argv)
    state = read_checkpoint(Path(args.ckpt))
    hparams = state.get("hyper_parameters", {})
    task_name = next((name for name, (mark, _, _) in TASK_MARKS.items() if mark in hparams), None)
    if task_name is None:
        raise CheckpointError(f"{args.ckpt} is not a lightocr task checkpoint (its hyperparameters name no charset "
                              f"or classes)")
    out = export_task(load_task(args.ckpt, task_name), args.out, args.opset)
    print(f"wrote {out}")
    if args.int8:
        print(f"wrote {quantize_int8(out, out.with_suffix('.int8.onnx'))}")
    return 0


def lightocr_main(argv: Optional[List[str]] = None) -> None:
    words = sys.argv[1:] if argv is None else argv
    commands = {command: name for name, (_, _, command) in TASK_MARKS.items()}
    if words and words[0] in commands:
        with errors_as_messages():
            sys.exit(read_main(words[1:], commands[words[0]]))
    if words and words[0] == "export":
        with errors_as_messages():
            sys.exit(export_main(words[1:]))
    lightning_main(argv)
