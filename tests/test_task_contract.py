"""The task contract: a task defined here alone (a LightningModule, a predictor, one registration) is fitted,
exported and read through the command lines, found by its entry point as an installed plugin's would be.

The toy task tells dark images from bright ones."""
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from lightocr.export import ExportGraph
from lightocr.predictor import Prediction, Predictor, softmax
from lightocr.tasks import BaseTask, TaskSpec, register_task

from .test_cli import BIN, ROOT

TOY_LABELS = ("dark", "bright")
SIZE = 8

register_task(TaskSpec(
    name="toy-brightness",
    task_class="tests.test_task_contract:ToyTask",
    predictor="tests.test_task_contract:ToyPredictor",
    marker="toy_labels",
    command="brightness",
    summary="Tell dark images from bright ones: path<TAB>label<TAB>probability",
    links=(("data.labels", "model.init_args.toy_labels", "instantiate"),),
    resume_keys=("toy_labels",),
))


def toy_image(bright: bool, rng: np.random.Generator) -> np.ndarray:
    low, high = (170, 255) if bright else (0, 85)
    return rng.integers(low, high, (12, 12), dtype=np.uint8)


class ToyPredictor(Predictor):
    metadata_keys = ("toy_labels",)

    def prepare(self, image: Image.Image) -> np.ndarray:
        gray = image.convert("L").resize((SIZE, SIZE), Image.BILINEAR)
        return np.asarray(gray, dtype=np.float32)[None] / 255.0

    def collate(self, prepared: List[np.ndarray]) -> Dict[str, np.ndarray]:
        return dict(images=np.stack(prepared))

    def decode(self, outputs: List[np.ndarray], inputs: Dict[str, Any]) -> List[Prediction]:
        probabilities = softmax(outputs[0])
        return [Prediction(self.metadata["toy_labels"][i], float(p[i])) for i, p in
                zip(probabilities.argmax(-1), probabilities)]


class ToyTask(BaseTask):
    score_metric = "acc"

    def __init__(self, toy_labels: Optional[List[str]] = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.save_hyperparameters()
        self.toy_labels = list(toy_labels)
        self.model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                   nn.Linear(4, len(self.toy_labels)))
        self.eval_metrics = nn.ModuleDict({s: MetricCollection(dict(acc=MulticlassAccuracy(2, average="micro")),
                                                               prefix=f"{s}/") for s in self.eval_losses})

    def usable(self, batch: Dict[str, Any], stage: str) -> Optional[Dict[str, Any]]:
        return batch

    def training_loss(self, usable: Dict[str, Any]) -> Tuple[torch.Tensor, int]:
        return nn.functional.cross_entropy(self.model(usable["images"]), usable["targets"]), len(usable["targets"])

    def evaluation_step(self, batch: Dict[str, Any], stage: str, dataloader_idx: int = 0) -> None:
        logits = self.model(batch["images"])
        self.eval_metrics[stage].update(logits, batch["targets"])
        self.eval_losses[stage].update(nn.functional.cross_entropy(logits, batch["targets"]))

    def export_graph(self) -> ExportGraph:
        return ExportGraph(self.model, (torch.zeros(1, 1, SIZE, SIZE),), ["images"], ["logits"],
                           {"images": {0: "batch"}, "logits": {0: "batch"}})

    def export_metadata(self) -> Dict[str, Any]:
        return dict(toy_labels=self.toy_labels)


class ToyData(LightningDataModule):
    """Random dark and bright images, shaped as ``ToyPredictor.prepare`` shapes them."""

    def __init__(self, batch_size: int = 16, size: int = 256):
        super().__init__()
        self.batch_size, self.size = batch_size, size
        self.labels = list(TOY_LABELS)

    def batches(self, seed: int) -> DataLoader:
        rng = np.random.default_rng(seed)
        targets = rng.integers(0, 2, self.size)
        predictor = ToyPredictor(engine=None, metadata={})
        images = np.stack([predictor.prepare(Image.fromarray(toy_image(bool(t), rng))) for t in targets])
        samples = [dict(images=torch.from_numpy(i), targets=int(t)) for i, t in zip(images, targets)]
        return DataLoader(samples, batch_size=self.batch_size, shuffle=seed == 0)

    def train_dataloader(self) -> DataLoader:
        return self.batches(0)

    def val_dataloader(self) -> DataLoader:
        return self.batches(1)


def plugin_environment(tmp_path: Path) -> Dict[str, str]:
    """An environment where this test module is an installed package's ``lightocr.tasks`` entry point."""
    info = tmp_path / "site" / "toy_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[lightocr.tasks]\ntoy = tests.test_task_contract\n")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), str(ROOT)]),
                       WANDB_MODE="offline")
    environment.pop("LIGHTOCR_RUN_DIR", None)
    return environment


def run(command: List[str], cwd: Path, env: Dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_a_task_defined_in_one_file_fits_exports_and_reads_through_the_cli(tmp_path):
    env = plugin_environment(tmp_path)
    run([str(BIN / "lightning"), "fit", "--model", "tests.test_task_contract.ToyTask",
         "--model.init_args.lr=0.05", "--model.init_args.warmup_steps=1",
         "--data", "tests.test_task_contract.ToyData", "--trainer.max_steps=32", "--trainer.val_check_interval=16",
         "--trainer.enable_progress_bar=false", f"--trainer.default_root_dir={tmp_path / 'runs'}"], tmp_path, env)
    checkpoint = tmp_path / "runs" / "version_0" / "checkpoints" / "last.ckpt"
    assert checkpoint.is_file()
    state = torch.load(checkpoint, weights_only=True)
    assert state["lightocr_task"] == "tests.test_task_contract:ToyTask"
    assert state["hyper_parameters"]["toy_labels"] == list(TOY_LABELS)  # linked from the data module

    run([str(BIN / "lightocr"), "export", "--ckpt", str(checkpoint), "--out", str(tmp_path / "toy.onnx")],
        tmp_path, env)
    rng = np.random.default_rng(7)  # images the training never drew
    truth = {}
    for index in range(6):
        bright = bool(index % 2)
        path = tmp_path / f"image{index}.png"
        Image.fromarray(toy_image(bright, rng)).save(path)
        truth[str(path)] = TOY_LABELS[bright]
    outputs = {}
    for model in (tmp_path / "toy.onnx", checkpoint):
        printed = run([str(BIN / "lightocr"), "brightness", "--ckpt", str(model), *truth], tmp_path, env).stdout
        rows = [line.split("\t") for line in printed.splitlines()]
        assert {path: label for path, label, _ in rows} == truth
        outputs[model.suffix] = {path: float(probability) for path, _, probability in rows}
    for path in truth:
        assert abs(outputs[".onnx"][path] - outputs[".ckpt"][path]) < 1e-4

    helped = subprocess.run([str(BIN / "lightocr"), "brightness", "--help"], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert "Tell dark images from bright ones" in helped.stdout


def test_the_toy_task_is_found_by_its_class_and_its_checkpoints_marker():
    from lightocr.tasks.registry import find_task, task_of_checkpoint, task_of_class

    class Tuned(ToyTask):  # a user's subclass is still the toy task
        pass

    assert task_of_class(Tuned).name == "toy-brightness"
    spec, klass = task_of_checkpoint({"hyper_parameters": {"toy_labels": ["a", "b"]}}, "old.ckpt")
    assert (spec.name, klass) == ("toy-brightness", ToyTask)
    assert find_task(command="brightness").name == "toy-brightness"
    assert find_task(command="read").name == "text-recognition"
