"""The task contract: each task registers one ``TaskSpec`` holding what the rest of lightocr asks of it. The
command lines, export and the readers look tasks up here and keep no table or branch of their own per task.

A task is one package: its LightningModule (a ``BaseTask``), its predictor (a ``lightocr.predictor.Predictor``,
no Lightning), and a ``register_task(TaskSpec(...))`` in its ``__init__`` that imports neither. The built-in
tasks are registered on first lookup; a task of another installed package registers through the entry-point
group ``lightocr.tasks`` (naming the module that calls ``register_task``), so that ``lightocr <command>`` and
the readers of its exported files find it too. This module imports neither torch nor Lightning.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..errors import CheckpointError, ConfigError

BUILTIN_TASKS = ("lightocr.tasks.recognition", "lightocr.tasks.classification", "lightocr.tasks.detection")
ENTRY_POINT_GROUP = "lightocr.tasks"
# (source, target, when LightningCLI applies it): what a data module hands its task
Link = Tuple[str, str, str]


@dataclass(frozen=True)
class TaskSpec:
    """What lightocr needs to know of a task.

    Args:
        name: the task's name, written into its exported files (``lightocr.task``) and checkpoints.
        task_class: ``"module:Class"`` of its LightningModule (a ``BaseTask``). The class exports itself
            (``export_graph``, ``export_metadata``) and builds its PyTorch predictor (``predictor``).
        predictor: ``"module:Class"`` of its ``Predictor``, which reads an exported file without Lightning.
        marker: the hyperparameter every checkpoint of the task carries (how checkpoints that do not name their
            task are told apart).
        command: ``lightocr <command> --ckpt MODEL IMAGE...`` reads images with it; ``summary`` is its help.
        links: the data module's values linked into the task (``LightningCLI.link_arguments``).
        resume_keys: the settings a resumed run must share with the run that wrote its checkpoint (the command
            line compares them with the config, ``BaseTask.on_load_checkpoint`` with the task's hyperparameters).
    """
    name: str
    task_class: str
    predictor: str
    marker: str
    command: str
    summary: str
    links: Tuple[Link, ...] = ()
    resume_keys: Tuple[str, ...] = ()


TASKS: Dict[str, TaskSpec] = {}
_loaded = {"builtin": False, "entry_points": False}


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add a task (or replace the one of the same name, as a module imported again does)."""
    clash = next((s for s in TASKS.values() if s.command == spec.command and s.name != spec.name), None)
    if clash is not None:
        raise ConfigError(f"task {spec.name}: the command `lightocr {spec.command}` is task {clash.name}'s already")
    TASKS[spec.name] = spec
    return spec


def _load_builtin() -> None:
    if not _loaded["builtin"]:
        _loaded["builtin"] = True
        for module in BUILTIN_TASKS:
            importlib.import_module(module)


def _load_entry_points() -> None:
    if not _loaded["entry_points"]:
        _loaded["entry_points"] = True
        from importlib.metadata import entry_points

        for entry in entry_points(group=ENTRY_POINT_GROUP):
            entry.load()


def find_task(predicate: Optional[Callable[[TaskSpec], bool]] = None, name: Optional[str] = None,
              command: Optional[str] = None) -> Optional[TaskSpec]:
    """The registered task that ``predicate`` accepts (or of this ``name`` or ``command``): the built-in ones are
    searched first, the entry points' only when none matches."""
    def matches(spec: TaskSpec) -> bool:
        return ((name is None or spec.name == name) and (command is None or spec.command == command)
                and (predicate is None or predicate(spec)))

    _load_builtin()
    found = next((s for s in TASKS.values() if matches(s)), None)
    if found is None and not _loaded["entry_points"]:
        _load_entry_points()
        found = next((s for s in TASKS.values() if matches(s)), None)
    return found


def all_tasks() -> List[TaskSpec]:
    _load_builtin()
    _load_entry_points()
    return list(TASKS.values())


def import_object(path: str) -> Any:
    """The object ``"package.module:Name"`` (or ``"package.module.Name"``) names."""
    module, _, name = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(f"cannot import {path}: {error}") from None


def class_path(klass: type) -> str:
    return f"{klass.__module__}:{klass.__qualname__}"


def task_of_class(klass: type) -> TaskSpec:
    """The task a LightningModule class (or a subclass of a task's class) belongs to."""
    paths = {class_path(k) for k in klass.__mro__}
    spec = find_task(lambda s: s.task_class in paths)
    if spec is None:
        raise ConfigError(f"{klass.__module__}.{klass.__qualname__} is no registered lightocr task: a task's package "
                          f"calls lightocr.tasks.register_task(TaskSpec(task_class=...)) when it is imported")
    return spec


def task_of_checkpoint(state: Dict[str, Any], where: str) -> Tuple[TaskSpec, type]:
    """A checkpoint's task and LightningModule class: the class it names (``lightocr_task``, written by every
    ``BaseTask``), else the task whose marker its hyperparameters carry."""
    hparams = state.get("hyper_parameters") or {}
    named = state.get("lightocr_task")
    if named:
        klass = import_object(named)
        return task_of_class(klass), klass
    spec = find_task(lambda s: s.marker in hparams)
    if spec is None:
        markers = ", ".join(sorted({s.marker for s in all_tasks()}))
        raise CheckpointError(f"{where} is not a lightocr task checkpoint (its hyperparameters name none of {markers})")
    return spec, import_object(spec.task_class)


def read_task_checkpoint(checkpoint: str, what: str = "") -> Tuple[Dict[str, Any], TaskSpec, type]:
    """A lightocr checkpoint read with ``weights_only=True`` (or the weights file of ``write_weights``, or the
    name of a model that ships with lightocr), with its task and LightningModule class; anything else raises
    ``CheckpointError`` naming the file (after ``what``, e.g. ``"init_from "``)."""
    from ..checkpoints import read_checkpoint
    from ..pretrained import resolve_model

    state = read_checkpoint(Path(resolve_model(str(checkpoint), engine="torch")))
    if not isinstance(state, dict) or "hyper_parameters" not in state or "state_dict" not in state:
        raise CheckpointError(f"{what}{checkpoint} is not a lightocr Lightning checkpoint (no "
                              f"hyper_parameters/state_dict)")
    return (state, *task_of_checkpoint(state, f"{what}{checkpoint}"))


def load_task(checkpoint: str, task: Optional[str] = None, map_location: str = "cpu", **settings: Any):
    """Rebuild a trained task from a checkpoint read with ``weights_only=True`` (no arbitrary unpickling), in
    eval mode. ``task``: the task name it must be; a checkpoint of another task is refused, naming the command
    that reads it. ``settings``: hyperparameters to read it with instead of its own (e.g. a detector's
    ``unclip_ratio``). A checkpoint of another lightocr version is refused, naming what does not fit."""
    import inspect

    state, spec, klass = read_task_checkpoint(checkpoint)
    if task is not None and spec.name != task:
        wanted = find_task(name=task)
        marker = f" (no {wanted.marker} in its hyperparameters)" if wanted else ""
        raise CheckpointError(f"{checkpoint} is not a {task} checkpoint{marker} (a {spec.name} checkpoint: use "
                              f"`lightocr {spec.command}`)")
    hparams = {k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_")}
    known = set()
    for base in klass.__mro__:
        init = base.__dict__.get("__init__")
        if init is not None:
            known |= {n for n, p in inspect.signature(init).parameters.items()
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"}
    if set(settings) - known:
        raise ValueError(f"{klass.__name__} has no setting {', '.join(sorted(set(settings) - known))}")
    unknown = sorted(set(hparams) - known)
    if unknown:
        raise CheckpointError(f"{checkpoint} was written by another version of lightocr: this version's "
                              f"{klass.__name__} has no setting {', '.join(unknown)}")
    hparams.update(settings)
    try:
        trained = klass(**hparams)
    except (TypeError, ValueError, KeyError, RuntimeError) as error:
        raise CheckpointError(f"{checkpoint}: its settings do not build this version's {klass.__name__} "
                              f"({type(error).__name__}: {error})") from None
    missing, unexpected = trained.load_state_dict(state["state_dict"], strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{checkpoint} was written by another version of lightocr: its weights do not fit this version's "
            f"{klass.__name__} network ({len(missing)} missing, e.g. {missing[:3]}; {len(unexpected)} unexpected, "
            f"e.g. {unexpected[:3]})")
    return trained.to(map_location).eval()
