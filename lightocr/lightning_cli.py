"""The ``lightning`` command line: LightningCLI's ``fit``, ``validate``, ``test``, ``predict`` with ``--config
configs/<name>.yaml``, each launch in its own run folder (``lightocr.runs``), the task's data links and resume
checks taken from its ``TaskSpec`` (``lightocr.tasks.registry``).
"""

import os
import sys
from pathlib import Path
from typing import Any, List, Optional, Tuple

import torch
import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from .checkpoints import plain_value, read_checkpoint, resume_candidates
from .errors import CheckpointError, ConfigError
from .loggers import ensure_wandb_mode
from .runs import (RUN_DIR_ENV, WANDB_ID_ENV, RunLock, fixed_run_dir, is_global_zero, latest_resumable, new_version,
                   new_wandb_id, run_of_checkpoint, wandb_run_id)
from .tasks.registry import TaskSpec, import_object, task_of_class
from .tasks.weights import STARTED_FROM


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
    """LightningCLI with the data module's settings linked into the task (its ``TaskSpec.links``: e.g. the charset,
    channels and input geometry of text recognition), one run folder per launch (``lightocr.runs``), W&B offline
    without credentials, and checkpoints and device counts checked before a run starts. The task is read from the
    command line's model ``class_path`` before parsing."""

    def __init__(self, *args: Any, **kwargs: Any):
        words = kwargs.get("args")
        # the command line with its config files' bases, read once: the task is picked from it, then it is parsed
        self.expanded_args = (expand_config_bases(sys.argv[1:] if words is None else list(words))
                              if words is None or isinstance(words, (list, tuple)) else None)
        self.task_class = task_of(self.expanded_args or [])
        self.task: TaskSpec = task_of_class(self.task_class)
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--base", type=Optional[str], default=None,
                            help="in a config file: the config file it extends (a path relative to it), read first")
        parser.set_defaults(SHARED_TRAINER_DEFAULTS)
        for source, target, when in self.task.links:
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
                check_start_or_resume(config, config.ckpt_path, state)
                check_same_setup(config, config.ckpt_path, state, self.task, self.task_class)
            else:
                use_checkpoint_inputs(config, state, self.task_class)

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
        finished = False
        try:
            super()._run_subcommand(subcommand)
            finished = True
        finally:  # a later run in this Python process chooses its own folder and starts its own W&B run
            if getattr(self, "run_lock", None) is not None:
                self.run_lock.release()
            finish_wandb_run(os.environ.get(WANDB_ID_ENV), finished)
            for key, value in getattr(self, "_saved_environment", {}).items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def finish_wandb_run(run_id: Optional[str], finished: bool) -> None:
    """End the W&B run ``run_id`` if it is this process's live one, as a ``lightning`` process's exit does:
    WandbLogger logs into a live run rather than start its own, so a later run in the same Python process (a
    notebook, a test) would write into this one."""
    wandb = sys.modules.get("wandb")
    if run_id and wandb is not None and wandb.run is not None and wandb.run.id == run_id:
        wandb.finish(exit_code=0 if finished else 1)


def check_start_or_resume(config, checkpoint: str, state: dict) -> None:
    """``init_from`` starts a new run from a model's weights, ``--ckpt_path`` resumes a run: both at once is
    refused, unless the checkpoint is of the run that ``init_from`` started (its own config, resumed)."""
    init_from = (plain_value(config.model.get("init_args") or {}) or {}).get("init_from")
    if init_from and init_from != (state.get(STARTED_FROM) or {}).get("init_from"):
        raise ConfigError(
            f"both --model.init_args.init_from {init_from} and --ckpt_path {checkpoint}: init_from starts a new run "
            f"from a trained model's weights (fresh optimizer, schedule and data position); --ckpt_path resumes "
            f"the run that wrote {checkpoint} exactly. Keep init_from for a new run, or --ckpt_path to resume.")


def check_same_setup(config, checkpoint: str, state: dict, task: TaskSpec, task_class: type) -> None:
    """Refuse to resume a checkpoint whose network or data shape (the task's ``resume_keys``) differs from this
    run's config, naming both configs and the first differences (the checkpoint's hyperparameters would otherwise
    replace the config's)."""
    saved = state.get("hyper_parameters") or {}
    if not saved:
        return
    ours = dict(plain_value(config.model.get("init_args") or {}))
    ours.update(task_class.linked_values(dict(plain_value(config.data.get("init_args") or {}))))
    differences = [f"{key}: checkpoint {plain_value(saved[key])!r}, config {ours[key]!r}" for key in task.resume_keys
                   if key in saved and key in ours and plain_value(saved[key]) != ours[key]]
    if differences:
        theirs = ", ".join(state.get("lightocr_config") or []) or "an unknown config"
        mine = ", ".join(str(p) for p in config.get("config") or []) or "the command line"
        raise CheckpointError(
            f"cannot resume {checkpoint}: it was written by a run of {theirs}, and this run's config ({mine}) "
            f"differs in " + "; ".join(differences[:3]) + ". Resume with the config that wrote it, or start a new "
            "run without --ckpt_path.")


def use_checkpoint_inputs(config, state: dict, task_class: type) -> None:
    """``validate``, ``test`` and ``predict`` shape their inputs as the checkpoint was trained (the task's
    ``data_settings_of`` its hyperparameters: a recognition checkpoint's input geometry, a classification
    checkpoint's input settings and evaluation transforms)."""
    data = config.get("data", {}).get("init_args")
    if data is None:
        return
    for key, value in task_class.data_settings_of(state.get("hyper_parameters") or {}).items():
        if key in data and plain_value(data[key]) != plain_value(value):
            rank_zero_info(f"data.{key}={plain_value(data[key])!r} replaced by the checkpoint's {plain_value(value)!r}")
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


def task_of(args: List[str]) -> type:
    """The task class a command line runs: the last model ``class_path`` of its config files and ``--model``
    options (text recognition when none names one)."""
    task = "lightocr.tasks.TextRecognitionTask"
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
        if value and "." in str(value):  # a class path; a bare class name is LightningCLI's to resolve
            task = str(value)
        elif value:
            task = f"lightocr.tasks.{value}"
    return import_object(task)


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
