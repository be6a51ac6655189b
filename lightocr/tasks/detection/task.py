"""The text-detection task: DB over an FPN on any backbone's pyramid, as a LightningModule."""
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from ...data.page_inputs import PageGeometry
from ...export import ExportGraph
from ..base import BaseTask
from .loss import DBLoss
from .metrics import DetectionMetric
from .model import DBNet
from .postprocess import DBPostProcess

TARGETS = ("prob", "prob_mask", "thresh", "thresh_mask")


class DetectionTask(BaseTask):
    """DB text detector (Liao et al. 2020) on any zoo network or timm ``features_only`` model.

    ``input_geometry`` (the page size, channels, normalization; ``PageGeometry``) and ``in_chans`` come from the
    data module, linked by the CLI, and are saved with the weights. The network: ``backbone`` (with
    ``backbone_kwargs``; ``backbone_weights``, a file to start it from), ``neck_channels``, the binarization's
    ``k``; ``init_from`` a trained detector starts from its weights, whole. The loss: ``prob_weight``,
    ``thresh_weight``, ``binary_weight`` (``DBLoss``). Boxes: ``thresh``, ``box_thresh``, ``unclip_ratio``
    (``DBPostProcess``). ``val/score`` is the hmean at IoU 0.5 (the ICDAR2015 protocol); after each validation a
    few pages with their predicted (red) and true (green) boxes go to W&B.
    """

    score_metric = "hmean"

    def __init__(self, input_geometry: Optional[Dict[str, Any]] = None, in_chans: int = 3,
                 backbone: str = "lo_mobilenetv3_large_050", backbone_kwargs: Optional[Dict[str, Any]] = None,
                 backbone_weights: Optional[str] = None, neck_channels: int = 96, k: float = 50.0, prob_weight: float = 5.0, thresh_weight: float = 10.0,
                 binary_weight: float = 1.0, thresh: float = 0.3, box_thresh: float = 0.6,
                 unclip_ratio: float = 1.5, **kwargs: Any):
        """``kwargs``: the optimizer, schedule and ``channels_last`` settings of ``BaseTask``."""
        super().__init__(**kwargs)
        self.geometry = (PageGeometry.from_dict(input_geometry) if input_geometry is not None
                         else PageGeometry(channels=in_chans))
        if self.geometry.channels != in_chans:
            raise ValueError(f"input_geometry has {self.geometry.channels} channels but in_chans={in_chans}")
        self.save_hyperparameters()
        self.model = DBNet(backbone, backbone_kwargs, in_chans, neck_channels, k, backbone_weights)
        self.loss = DBLoss(prob_weight, thresh_weight, binary_weight)
        self.postprocess = DBPostProcess(thresh, box_thresh, unclip_ratio)
        self.eval_metrics = nn.ModuleDict({stage: DetectionMetric(prefix=f"{stage}/") for stage in self.eval_losses})
        self._val_pages: List[Image.Image] = []

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        return self.model(self.prepare_images(images))

    def usable(self, batch: Dict[str, Any], stage: str) -> Optional[Dict[str, Any]]:
        self.count_batch_skips(batch, stage)
        return batch if batch["keys"] else None

    def training_loss(self, usable: Dict[str, Any]) -> Tuple[torch.Tensor, int]:
        losses = self.loss(self(usable["images"]), {name: usable[name] for name in TARGETS})
        self.log_dict({f"train/loss_{name}": value for name, value in losses.items() if name != "loss"},
                      batch_size=len(usable["keys"]))
        return losses["loss"], len(usable["keys"])

    def evaluation_step(self, batch: Dict[str, Any], stage: str, dataloader_idx: int = 0) -> None:
        usable = self.usable(batch, stage)
        if usable is None:
            return None
        maps = self(usable["images"])
        loss = self.loss(maps, {name: usable[name] for name in TARGETS})["loss"]
        self.eval_losses[stage].update(loss.detach(), weight=len(usable["keys"]))
        found = [[points for points, _ in self.postprocess(prob[0])] for prob in maps["prob"].float().cpu().numpy()]
        self.eval_metrics[stage].update(found, usable["regions"])
        if stage == "val" and not self.trainer.sanity_checking and len(self._val_pages) < 4:
            for image, boxes, truths in zip(usable["images"], found, usable["regions"]):
                if len(self._val_pages) < 4:
                    self._val_pages.append(self.drawn_page(image, boxes, truths))
        return None

    def drawn_page(self, image: torch.Tensor, boxes: List[np.ndarray], truths) -> Image.Image:
        """A page as the network saw it, its true boxes in green and the found ones in red."""
        mean = torch.tensor(self.geometry.mean, device=image.device).view(-1, 1, 1)
        std = torch.tensor(self.geometry.std, device=image.device).view(-1, 1, 1)
        if image.shape[0] == 1:  # grayscale pages are normalized by the mean of the three (PageGeometry)
            mean, std = mean.mean(0, keepdim=True), std.mean(0, keepdim=True)
        pixels = ((image.float() * std + mean).clamp(0, 1) * 255).byte().permute(1, 2, 0).cpu().numpy()
        page = Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).convert("RGB")
        draw = ImageDraw.Draw(page)
        for points, _ in truths:
            draw.polygon([tuple(p) for p in np.asarray(points).tolist()], outline=(0, 200, 0))
        for points in boxes:
            draw.polygon([tuple(p) for p in points.tolist()], outline=(230, 0, 0))
        return page

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        pages, self._val_pages = self._val_pages, []
        if not pages or not self.trainer.is_global_zero:
            return
        from lightning.pytorch.loggers import WandbLogger
        for logger in self.trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image("val/pages", pages, step=self.trainer.global_step)

    # export and reading -----------------------------------------------------------------------------
    def export_graph(self) -> ExportGraph:
        """``images`` ``(batch, channels, height, width)`` (normalized as ``geometry`` says; height and width
        multiples of 32) to the ``prob`` and ``thresh`` maps of the same size."""
        size = self.geometry.size
        images = torch.randn(1, self.geometry.channels, size, size, device=self.device)
        axes = {name: {0: "batch", 2: "height", 3: "width"} for name in ("images", "prob", "thresh")}
        return ExportGraph(DetectorGraph(self.model), (images,), ["images"], ["prob", "thresh"], axes)

    def export_metadata(self) -> Dict[str, Any]:
        """The page geometry and the post-processing settings."""
        post = self.postprocess
        return dict(geometry=self.geometry.as_dict(),
                    postprocess=dict(thresh=post.thresh, box_thresh=post.box_thresh, unclip_ratio=post.unclip_ratio))

    @classmethod
    def linked_values(cls, data_settings: Dict[str, Any]) -> Dict[str, Any]:
        """The page geometry a data module with these settings links into the task."""
        geometry = PageGeometry(**{k: tuple(v) if isinstance(v, list) else v for k, v in data_settings.items()
                                   if k in ("size", "channels", "mean", "std")})
        return dict(input_geometry=geometry.as_dict())

    @classmethod
    def data_settings_of(cls, hparams: Dict[str, Any]) -> Dict[str, Any]:
        """The data module's settings that shape pages as a checkpoint's were."""
        geometry = hparams.get("input_geometry")
        return {key: geometry[key] for key in ("size", "channels", "mean", "std")} if geometry else {}


class DetectorGraph(nn.Module):
    """DBNet as exported and read: ``images -> (prob, thresh)``."""

    def __init__(self, model: DBNet):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        maps = self.model(images)
        return maps["prob"], maps["thresh"]
