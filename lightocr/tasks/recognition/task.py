"""The text-recognition task: CRNN + CTC as a LightningModule."""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torchmetrics import MetricCollection

from ...data.geometry import LineGeometry
from ...export import ExportGraph
from ...ocr.charset import Charset
from ...ocr.ctc import CTCLoss, LabelTooLongError, ctc_min_length
from ...ocr.decode import CTCDecoder
from ...ocr.metrics import CharErrorRate, NormalizedEditDistance, WordAccuracy
from ...ocr.model import CRNN
from ..base import BaseTask
from ..weights import BLANK_LABEL


def recognition_metrics(prefix: str, charset: Sequence[str]) -> MetricCollection:
    return MetricCollection(dict(
        word_acc=WordAccuracy("exact"), word_acc_bench=WordAccuracy("benchmark", charset=charset),
        cer=CharErrorRate(), ned=NormalizedEditDistance()), prefix=prefix)


class TextRecognitionTask(BaseTask):
    """CRNN text recognizer trained with CTC.

    The network is described by names and plain values (``backbone`` with ``backbone_kwargs``, ``neck`` with
    ``neck_kwargs``), never an injected module, so ``load_from_checkpoint`` rebuilds it from the checkpoint.
    ``backbone_weights``: a torchvision, timm or lightocr file to start the backbone from; ``init_from``: a trained
    recognizer to start from, its CTC rows mapped by symbol (shared symbols keep theirs, new ones start fresh).
    ``charset``, ``case_sensitive``, ``in_chans`` and ``input_geometry`` (how images become inputs: height,
    width rule, normalization; see ``LineGeometry``) come from the data module, linked by the CLI, and are
    saved with the weights, so that a checkpoint reads lines exactly as it was trained.

    ``val/score`` (the metric the shared ``ModelCheckpoint`` keeps the best of) is the exact word accuracy over
    all validation sources; with several, each is also reported as ``val/<source>/<metric>``.

    Bad samples are counted as ``BaseTask`` does; a label too long for its image's time steps is one more kind
    (``too_long``). With the data module's ``on_error="raise"``, such a label stops the run, naming the sample.
    """

    def __init__(
            self,
            charset: Optional[Sequence[str]] = None,
            case_sensitive: bool = True,
            in_chans: int = 3,
            input_geometry: Optional[Dict[str, Any]] = None,
            backbone: str = "lo_mobilenetv3_small_100",
            backbone_kwargs: Optional[Dict[str, Any]] = None,
            backbone_weights: Optional[str] = None,
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
        self.geometry = (LineGeometry.from_dict(input_geometry) if input_geometry is not None
                         else LineGeometry(channels=in_chans))
        if self.geometry.channels != in_chans:
            raise ValueError(f"input_geometry has {self.geometry.channels} channels but in_chans={in_chans}")
        self.save_hyperparameters()
        self.charset = Charset(charset, case_sensitive=case_sensitive)
        self.model = CRNN(self.charset.num_classes, backbone=backbone, level=level, in_chans=in_chans,
                          stage_strides=stage_strides, backbone_kwargs=backbone_kwargs, neck=neck,
                          neck_kwargs=neck_kwargs, head_dropout=head_dropout, backbone_weights=backbone_weights)
        self.loss = CTCLoss()
        self.decoder = CTCDecoder(self.charset, beam_width)
        self.eval_metrics = nn.ModuleDict({stage: recognition_metrics(f"{stage}/", charset)
                                           for stage in self.eval_losses})
        self.source_metrics = nn.ModuleDict()  # per validation source, built in setup() when there are several

    score_metric = "word_acc"

    def head_rows(self, trained_hparams: Dict[str, Any]) -> Tuple[str, List[str], List[str], str]:
        """The CTC head's rows, by symbol (the blank's row kept)."""
        trained = Charset(trained_hparams["charset"], trained_hparams.get("case_sensitive", True))
        return "model.head.", [BLANK_LABEL, *self.charset.symbols], [BLANK_LABEL, *trained.symbols], "symbols"

    def forward(self, images: torch.Tensor, widths: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.model(self.prepare_images(images), widths)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        datamodule = getattr(self._trainer, "datamodule", None)
        names = getattr(datamodule, "val_source_names", [])
        if len(names) > 1 and not self.source_metrics:
            for index, name in enumerate(names):
                self.source_metrics[str(index)] = recognition_metrics(f"val/{name}/", self.charset.symbols)

    # bad samples ------------------------------------------------------------------------------------
    def usable(self, batch: Dict, stage: str) -> Optional[Dict]:
        """Count the skipped samples of a batch and drop labels that CTC cannot fit; None if nothing is left."""
        self.count_batch_skips(batch, stage)
        if not batch["labels"]:
            return None
        widths = batch["widths"].to(self.device)
        lengths = self.model.sequence_lengths(widths)
        targets = [self.charset.encode(label) for label in batch["labels"]]
        fits = [ctc_min_length(t) <= int(n) for t, n in zip(targets, lengths)]
        if not all(fits):
            examples = [f"{key}: {len(t)} symbols, {int(n)} time steps" for key, t, n, ok in
                        zip(batch["keys"], targets, lengths, fits) if not ok]
            if self.on_error_policy() == "raise":
                raise LabelTooLongError(f"labels too long for their images' time steps: {examples[:3]} (set the "
                                        f"data module's on_error to 'skip' to count and skip such samples)")
            self.count_skipped(stage, "too_long", examples)
            keep = torch.tensor(fits)
            if not keep.any():
                return None
            batch = dict(images=batch["images"][keep], labels=[l for l, ok in zip(batch["labels"], fits) if ok],
                         keys=[k for k, ok in zip(batch["keys"], fits) if ok])
            keep = keep.to(self.device)
            widths, lengths, targets = widths[keep], lengths[keep], [t for t, ok in zip(targets, fits) if ok]
        return dict(images=batch["images"], labels=batch["labels"], widths=widths, lengths=lengths, targets=targets)

    # steps ------------------------------------------------------------------------------------------
    def training_loss(self, usable: Dict) -> Tuple[torch.Tensor, int]:
        logits = self(usable["images"], usable["widths"])
        return self.loss(logits, usable["targets"], usable["lengths"].clamp(max=logits.shape[1])), len(usable["targets"])

    def evaluation_step(self, batch: Dict, stage: str, dataloader_idx: int = 0) -> Optional[Dict[str, Any]]:
        """Update the stage's metrics (pooled over its loaders, and per validation source) with a batch.
        Returns the images, labels and predictions (for sample tables)."""
        usable = self.usable(batch, stage)
        if usable is None:
            return None
        logits = self(usable["images"], usable["widths"])
        lengths = usable["lengths"].clamp(max=logits.shape[1])
        loss = self.loss(logits, usable["targets"], lengths)
        predictions = self.decoder(logits, lengths)
        texts, labels = [p.text for p in predictions], usable["labels"]
        self.eval_metrics[stage].update(texts, labels)
        self.eval_losses[stage].update(loss.detach(), weight=len(labels))
        if stage == "val" and str(dataloader_idx) in self.source_metrics:
            self.source_metrics[str(dataloader_idx)].update(texts, labels)
        return dict(images=usable["images"], labels=labels, predictions=predictions)

    def extra_evaluation_values(self, stage: str) -> Dict[str, Any]:
        """With several validation sources, each one's metrics (``val/<source>/<metric>``)."""
        values: Dict[str, Any] = {}
        if stage == "val":
            for source in self.source_metrics.values():
                values.update(source.compute())
                source.reset()
        return values

    # export and reading -----------------------------------------------------------------------------
    def export_graph(self) -> ExportGraph:
        """``(images, widths) -> (logits, lengths)``: ``images`` ``(batch, channels, height, width)`` (float32,
        normalized and padded as the ``geometry`` metadata says), ``widths`` (int64, each line's width before
        padding), ``logits`` ``(batch, time, classes)`` (CTC, blank at index 0, then ``charset``) and ``lengths``
        (each line's valid time steps). The BiLSTM runs over each line's own steps (ONNX's ``sequence_lens``), so
        a line reads the same alone and in a padded batch; the example has two lines, the second narrower."""
        geometry, crnn = self.geometry, self.model
        width = max(crnn.encoder.min_width, min(geometry.max_width, 10 * geometry.height))
        images = torch.randn(2, geometry.channels, geometry.height, width, device=self.device)
        widths = torch.tensor([width, max(crnn.encoder.min_width, width // 2)], device=self.device)
        axes = {"images": {0: "batch", 3: "width"}, "widths": {0: "batch"}, "logits": {0: "batch", 1: "time"},
                "lengths": {0: "batch"}}
        return ExportGraph(RecognizerGraph(crnn), (images, widths), ["images", "widths"], ["logits", "lengths"],
                           axes)

    def export_metadata(self) -> Dict[str, Any]:
        """The charset, case rule, line geometry (height, width rule, channels, normalization, padding), the
        narrowest line the encoder takes, and the beam width."""
        return dict(charset=self.charset.symbols, case_sensitive=self.charset.case_sensitive,
                    geometry=self.geometry.as_dict(), min_width=self.model.encoder.min_width,
                    beam_width=self.decoder.beam_width)

    @classmethod
    def linked_values(cls, data_settings: Dict[str, Any]) -> Dict[str, Any]:
        """The charset and input geometry a data module with these settings links into the task."""
        charset = Charset.from_spec(data_settings.get("charset", "alnum36"), data_settings.get("case_sensitive"))
        geometry = LineGeometry(**{k: data_settings[k] for k in ("height", "max_width", "channels", "pad_to")
                                   if k in data_settings})
        return dict(charset=charset.symbols, case_sensitive=charset.case_sensitive, input_geometry=geometry.as_dict())

    @classmethod
    def data_settings_of(cls, hparams: Dict[str, Any]) -> Dict[str, Any]:
        """The data module's settings that shape lines as a checkpoint's were: its input geometry."""
        geometry = hparams.get("input_geometry")
        return {key: geometry[key] for key in ("height", "max_width", "channels", "pad_to")} if geometry else {}


class RecognizerGraph(nn.Module):
    """A CRNN as exported and read: ``(images, widths) -> (logits, lengths)``, the BiLSTM packed by the lengths."""

    def __init__(self, crnn: CRNN):
        super().__init__()
        self.crnn = crnn

    def forward(self, images: torch.Tensor, widths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        features = self.crnn.encoder(images)
        lengths = self.crnn.sequence_lengths(widths).clamp(1, features.shape[1])
        return self.crnn.head(self.crnn.neck(features, lengths)), lengths
