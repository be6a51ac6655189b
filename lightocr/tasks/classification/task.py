"""The image-classification task: any zoo network or timm model with a classifier, as a LightningModule."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from timm.data import Mixup
from timm.loss import SoftTargetCrossEntropy
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from ...export import ExportGraph
from ...models import create_backbone
from ..base import BaseTask
from .predictor import class_predictions


def classification_metrics(prefix: str, num_classes: int) -> MetricCollection:
    return MetricCollection(dict(
        top1=MulticlassAccuracy(num_classes, top_k=1, average="micro"),
        top5=MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro")), prefix=prefix)


class ImageClassificationTask(BaseTask):
    """Image classifier over any zoo network (``lightocr.list_models()``) or timm model name.

    The network is described by its name and plain values (``backbone`` with ``backbone_kwargs``: ``drop_rate``,
    ``drop_path_rate``, ...), so ``load_from_checkpoint`` rebuilds it; ``backbone_weights``: a torchvision, timm
    or lightocr file to start the backbone from (``create_backbone``), or ``init_from`` a trained classifier, its
    rows mapped by class name. ``classes``, ``in_chans`` and
    ``input_settings`` (size, normalization, evaluation transforms) come from the data module, linked by the CLI,
    and are saved with the weights. Cross-entropy with ``label_smoothing``; ``mixup_alpha`` / ``cutmix_alpha`` mix
    training batches through timm's ``Mixup`` (soft targets). ``val/score`` is the top-1 accuracy; after each
    validation the confusion matrix (rows: true class, normalized) is logged to W&B as an image. Bad samples are
    counted as ``BaseTask`` does (a label outside the class list is the kind ``unknown_class``).
    """

    def __init__(
            self,
            classes: Optional[Sequence[str]] = None,
            in_chans: int = 3,
            input_settings: Optional[Dict[str, Any]] = None,
            backbone: str = "lo_mobilenetv3_small_100",
            backbone_kwargs: Optional[Dict[str, Any]] = None,
            backbone_weights: Optional[str] = None,
            label_smoothing: float = 0.1,
            mixup_alpha: float = 0.0,
            cutmix_alpha: float = 0.0,
            **kwargs: Any,
    ):
        """``kwargs``: the optimizer, schedule and ``channels_last`` settings of ``BaseTask``."""
        super().__init__(**kwargs)
        if classes is None:
            raise ValueError("ImageClassificationTask needs classes: the CLI links them from the data module; in "
                             "Python pass classes=datamodule.class_names")
        self.save_hyperparameters()
        self.classes = list(classes)
        num_classes = len(self.classes)
        self.model = create_backbone(backbone, backbone_weights, num_classes=num_classes, in_chans=in_chans,
                                     **(backbone_kwargs or {}))
        self.mixup = (Mixup(mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha, label_smoothing=label_smoothing,
                            num_classes=num_classes) if mixup_alpha > 0 or cutmix_alpha > 0 else None)
        self.loss = SoftTargetCrossEntropy() if self.mixup else nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.eval_loss = nn.CrossEntropyLoss()
        self.eval_metrics = nn.ModuleDict({s: classification_metrics(f"{s}/", num_classes) for s in self.eval_losses})
        self.confusion = MulticlassConfusionMatrix(num_classes, normalize="true")

    score_metric = "top1"

    def head_rows(self, trained_hparams: Dict[str, Any]) -> Tuple[str, List[str], List[str], str]:
        """The classifier's rows, by class name."""
        return f"model.{self.model.pretrained_cfg['classifier']}.", self.classes, list(trained_hparams["classes"]), \
            "classes"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(self.prepare_images(images))

    def usable(self, batch: Dict[str, Any], stage: str) -> Optional[Dict[str, Any]]:
        self.count_batch_skips(batch, stage)
        return batch if batch["keys"] else None

    def training_loss(self, usable: Dict[str, Any]) -> Tuple[torch.Tensor, int]:
        images, targets = usable["images"], usable["targets"]
        if self.mixup is not None:
            even = len(targets) // 2 * 2  # timm's Mixup pairs the samples of a batch
            if even == 0:
                images, targets = images.repeat(2, 1, 1, 1), targets.repeat(2)
            else:
                images, targets = images[:even], targets[:even]
            images, targets = self.mixup(images, targets)
        return self.loss(self(images), targets), len(targets)

    def evaluation_step(self, batch: Dict[str, Any], stage: str, dataloader_idx: int = 0) -> Optional[Dict[str, Any]]:
        usable = self.usable(batch, stage)
        if usable is None:
            return None
        logits = self(usable["images"])
        targets = usable["targets"]
        self.eval_metrics[stage].update(logits, targets)
        self.eval_losses[stage].update(self.eval_loss(logits, targets), weight=len(targets))
        if stage == "val":
            self.confusion.update(logits, targets)
        return dict(images=self._display(usable["images"]), labels=[self.classes[t] for t in targets.tolist()],
                    predictions=class_predictions(logits, self.classes))

    def _display(self, images: torch.Tensor) -> torch.Tensor:
        """Images back in [-1, 1] (from the input normalization), for sample tables."""
        settings = self.hparams.input_settings or {}
        shape = (1, -1, 1, 1)
        mean = torch.tensor(settings.get("mean", (0.5,)), device=images.device).view(shape)
        std = torch.tensor(settings.get("std", (0.5,)), device=images.device).view(shape)
        if images.shape[1] == 1:
            mean, std = mean.mean(1, keepdim=True), std.mean(1, keepdim=True)
        return (images * std + mean) * 2 - 1

    def on_validation_epoch_end(self) -> None:
        """The metrics, then the confusion matrix (rows: true class, normalized) as an image in W&B."""
        super().on_validation_epoch_end()
        matrix = self.confusion.compute()  # summed over DDP ranks
        self.confusion.reset()
        if self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        from lightning.pytorch.loggers import WandbLogger
        for logger in self.trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("val/confusion_matrix", [confusion_image(matrix.cpu().numpy(), self.classes)],
                                 step=self.trainer.global_step)

    def export_graph(self) -> ExportGraph:
        """``images`` ``(batch, channels, size, size)``, normalized as the input settings say, to ``logits``."""
        size = self.hparams.input_settings["size"]
        images = torch.randn(1, self.hparams.in_chans, size, size, device=self.device)
        return ExportGraph(self.model, (images,), ["images"], ["logits"], {"images": {0: "batch"}, "logits": {0: "batch"}})

    def export_metadata(self) -> Dict[str, Any]:
        """The class list and the input settings (size, normalization, evaluation transforms)."""
        return dict(classes=self.classes, input_settings=dict(self.hparams.input_settings))

    @classmethod
    def data_settings_of(cls, hparams: Dict[str, Any]) -> Dict[str, Any]:
        """The data module's settings that shape images as a checkpoint's were: its input settings."""
        inputs = hparams.get("input_settings")
        if not inputs:
            return {}
        return dict(input_size=inputs["size"], channels=inputs["channels"], mean=inputs["mean"], std=inputs["std"],
                    crop_pct=inputs["crop_pct"], eval_transforms=inputs["eval_transforms"])


def confusion_image(matrix: np.ndarray, classes: Sequence[str], cell: int = 12) -> Image.Image:
    """A row-normalized confusion matrix as a heat map (white 0, dark blue 1), class names on both axes."""
    n = len(classes)
    margin = 8 + 7 * max(len(c) for c in classes)
    image = Image.new("RGB", (margin + n * cell, margin + n * cell), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    share = np.nan_to_num(matrix).clip(0, 1)
    for row in range(n):
        draw.text((2, margin + row * cell), classes[row], fill="black", font=font)
        draw.text((margin + row * cell + 2, 2), classes[row][:1], fill="black", font=font)
        for col in range(n):
            x, y, v = margin + col * cell, margin + row * cell, float(share[row, col])
            draw.rectangle((x, y, x + cell - 1, y + cell - 1),
                           fill=(int(255 - 225 * v), int(255 - 175 * v), int(255 - 80 * v)))
    return image
