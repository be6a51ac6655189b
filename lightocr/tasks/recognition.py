"""The text-recognition task: CRNN + CTC as a LightningModule."""
from __future__ import annotations

from collections import Counter
from typing import Any, Dict, List, Optional, Sequence

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torchmetrics import MetricCollection

from ..ocr.charset import Charset
from ..ocr.ctc import CTCDecoder, CTCLoss, ctc_min_length
from ..ocr.metrics import CharErrorRate, NormalizedEditDistance, WordAccuracy
from ..ocr.model import CRNN
from .base import BaseTask


def recognition_metrics(prefix: str) -> MetricCollection:
    return MetricCollection(dict(
        word_acc=WordAccuracy("exact"), word_acc_bench=WordAccuracy("benchmark"),
        cer=CharErrorRate(), ned=NormalizedEditDistance()), prefix=prefix)


class TextRecognitionTask(BaseTask):
    """CRNN text recognizer trained with CTC.

    The network is described by names and plain values (``backbone`` with ``backbone_kwargs``, ``neck`` with
    ``neck_kwargs``), never an injected module, so ``load_from_checkpoint`` rebuilds it from the checkpoint.
    ``charset``, ``case_sensitive`` and ``in_chans`` come from the data module (linked by the CLI).

    ``val/score`` (the metric the shared ``ModelCheckpoint`` keeps the best of) is the exact word accuracy.

    Samples the data side skipped, and labels too long for the image's time steps, are counted (logged as
    ``data/skipped_*``) and reported once per kind with examples; training goes on with the rest.
    """

    def __init__(
            self,
            charset: Optional[Sequence[str]] = None,
            case_sensitive: bool = True,
            in_chans: int = 3,
            backbone: str = "lo_mobilenetv3_small_100",
            backbone_kwargs: Optional[Dict[str, Any]] = None,
            level: int = -1,
            stage_strides: Optional[List[Any]] = None,
            neck: str = "bilstm",
            neck_kwargs: Optional[Dict[str, Any]] = None,
            head_dropout: float = 0.0,
            beam_width: int = 1,
            **kwargs: Any,
    ):
        """``kwargs``: the optimizer, schedule and ``channels_last`` settings of ``BaseTask``."""
        super().__init__(**kwargs)
        if charset is None:
            raise ValueError("TextRecognitionTask needs a charset: the CLI links it from the data module; in Python "
                             "pass charset=datamodule.charset_symbols")
        self.save_hyperparameters()
        self.charset = Charset(charset, case_sensitive=case_sensitive)
        self.model = CRNN(self.charset.num_classes, backbone=backbone, level=level, in_chans=in_chans,
                          stage_strides=stage_strides, backbone_kwargs=backbone_kwargs, neck=neck,
                          neck_kwargs=neck_kwargs, head_dropout=head_dropout)
        self.loss = CTCLoss()
        self.decoder = CTCDecoder(self.charset, beam_width)
        self.val_metrics = recognition_metrics("val/")
        self.test_metrics = recognition_metrics("test/")
        self.skipped: Counter = Counter()
        self._reported_kinds: set = set()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(self.prepare_images(images))

    # bad samples ------------------------------------------------------------------------------------
    def _note_skipped(self, kind: str, examples: List[str]) -> None:
        self.skipped[kind] += len(examples)
        if kind not in self._reported_kinds:
            self._reported_kinds.add(kind)
            rank_zero_warn(f"skipping samples ({kind}); counted as data/skipped_{kind}. First: {examples[:3]}")

    def _usable(self, batch: Dict) -> Optional[Dict]:
        """Count the skipped samples of a batch and drop labels that CTC cannot fit; None if nothing is left."""
        by_kind: Dict[str, List[str]] = {}
        for sample in batch["skipped"]:
            by_kind.setdefault(sample.kind, []).append(f"{sample.key}: {sample.reason}")
        for kind, examples in by_kind.items():
            self._note_skipped(kind, examples)
        if not batch["labels"]:
            return None
        lengths = self.model.sequence_lengths(batch["widths"].to(self.device))
        targets = [self.charset.encode(label) for label in batch["labels"]]
        fits = [ctc_min_length(t) <= int(n) for t, n in zip(targets, lengths)]
        if not all(fits):
            self._note_skipped("too_long", [
                f"{key}: {len(t)} symbols, {int(n)} time steps" for key, t, n, ok in
                zip(batch["keys"], targets, lengths, fits) if not ok])
            keep = torch.tensor(fits)
            if not keep.any():
                return None
            batch = dict(images=batch["images"][keep], labels=[l for l, ok in zip(batch["labels"], fits) if ok],
                         keys=[k for k, ok in zip(batch["keys"], fits) if ok])
            lengths, targets = lengths[keep.to(lengths.device)], [t for t, ok in zip(targets, fits) if ok]
        return dict(images=batch["images"], labels=batch["labels"], lengths=lengths, targets=targets)

    def _log_skipped(self) -> None:
        for kind, count in self.skipped.items():
            self.log(f"data/skipped_{kind}", float(count), on_step=True, on_epoch=False)

    # steps ------------------------------------------------------------------------------------------
    def training_step(self, batch: Dict, batch_idx: int):
        usable = self._usable(batch)
        if usable is None:
            return None
        logits = self(usable["images"])
        loss = self.loss(logits, usable["targets"], usable["lengths"].clamp(max=logits.shape[1]))
        self.log("train/loss", loss, prog_bar=True, batch_size=len(usable["targets"]))
        self._log_skipped()
        return loss

    def _evaluate(self, batch: Dict, metrics: MetricCollection, prefix: str) -> Optional[Dict[str, Any]]:
        """Loss and metrics of a batch; returns the images, labels and predictions (for sample tables)."""
        usable = self._usable(batch)
        if usable is None:
            return None
        logits = self(usable["images"])
        lengths = usable["lengths"].clamp(max=logits.shape[1])
        loss = self.loss(logits, usable["targets"], lengths)
        predictions = self.decoder(logits, lengths.cpu())
        metrics.update([p.text for p in predictions], usable["labels"])
        batch_size = len(usable["targets"])
        self.log(f"{prefix}loss", loss, batch_size=batch_size, sync_dist=True)
        self.log_dict(metrics, batch_size=batch_size, prog_bar=prefix == "val/")
        # the main metric, under the name the shared checkpoint callback monitors
        self.log(f"{prefix}score", metrics["word_acc"], batch_size=batch_size)
        return dict(images=usable["images"], labels=usable["labels"], predictions=predictions)

    def validation_step(self, batch: Dict, batch_idx: int) -> Optional[Dict[str, Any]]:
        return self._evaluate(batch, self.val_metrics, "val/")

    def test_step(self, batch: Dict, batch_idx: int) -> Optional[Dict[str, Any]]:
        return self._evaluate(batch, self.test_metrics, "test/")

    def on_load_checkpoint(self, checkpoint: Dict[str, Any]) -> None:
        """Refuse, before any weight is touched, a checkpoint of another task or another charset."""
        saved = checkpoint.get("hyper_parameters", {})
        if "charset" not in saved:
            raise ValueError("this checkpoint is not from a TextRecognitionTask (its hyperparameters have no charset)")
        if list(saved["charset"]) != self.charset.symbols:
            theirs, ours = "".join(saved["charset"]), "".join(self.charset.symbols)
            raise ValueError(f"checkpoint charset differs from the data's: checkpoint {len(theirs)} symbols "
                             f"{theirs[:40]!r}..., data {len(ours)} symbols {ours[:40]!r}...")
        for key in ("backbone", "neck", "in_chans"):
            if key in saved and saved[key] != self.hparams[key]:
                raise ValueError(f"checkpoint {key}={saved[key]!r} differs from this run's {key}={self.hparams[key]!r}")

    def predict_step(self, batch: Dict, batch_idx: int) -> List[Dict[str, Any]]:
        if not batch["keys"]:
            return []
        logits = self(batch["images"])
        lengths = self.model.sequence_lengths(batch["widths"].to(self.device)).clamp(max=logits.shape[1])
        return [dict(key=key, text=p.text, confidence=p.confidence)
                for key, p in zip(batch["keys"], self.decoder(logits, lengths.cpu()))]
