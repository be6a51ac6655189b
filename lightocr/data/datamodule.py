"""The text-recognition DataModule: sources, charset, image geometry and loaders, all set from YAML.

It owns the one ``Charset`` of a run; LightningCLI links ``charset_symbols``, ``case_sensitive`` and
``channels`` into the task, so that the CTC head is sized from the data and never repeated in a config.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Dict, List, Optional

import cv2
from lightning.pytorch import LightningDataModule
from torch.utils.data import ConcatDataset, DataLoader

from ..ocr.charset import Charset
from .dataset import TextLineDataset
from .samplers import ResumableSampler, resume_position
from .sources import MixedSource, TextSource, open_image
from .synthetic import SyntheticTextSource
from .transforms import LineCollator

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
VAL_SEED_OFFSET, TEST_SEED_OFFSET = 1_000_003, 2_000_003


def _single_threaded_worker(worker_id: int) -> None:
    """Loader workers render and augment with OpenCV; its own thread pool would compete with training."""
    cv2.setNumThreads(1)


class ImageFilesSource(TextSource):
    """Unlabelled images (files, or every image in a folder) for prediction."""

    def __init__(self, paths: List[str]):
        super().__init__()
        self.paths: List[str] = []
        for path in map(Path, paths):
            if path.is_dir():
                self.paths.extend(sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
            else:
                self.paths.append(str(path))

    def __len__(self) -> int:
        return len(self.paths)

    def load(self, index: int):
        return open_image(self.paths[index], self.paths[index]), "", self.paths[index]

    def describe(self) -> str:
        return f"{len(self.paths)} images"


class TextRecognitionDataModule(LightningDataModule):
    """Text lines for CRNN training.

    Args:
        charset: a preset (``digits``, ``alnum36``, ``alnum62``, ``printable``) or a dictionary file.
        case_sensitive: None: the preset's default (``alnum36`` is case-insensitive, the others are not).
        channels: 1 (grayscale) or 3 (RGB); images are converted on load, and the model is built to match.
        height, max_width: lines are scaled to ``height`` keeping their aspect ratio, wider ones squeezed.
        pad_to: ``max`` pads every batch to ``max_width``; ``batch`` pads to the widest line of the batch.
        train_sources, val_sources, test_sources: lists of sources (``class_path``/``init_args`` in YAML);
            None gives synthetic lines (validation and test with their own seeds); ``[]`` gives no loader.
            Several training sources are mixed by their ``ratio``.
        train_size: training samples per epoch when several sources are mixed (default: their total).
        predict_paths: image files or folders for ``predict``.
        on_error: ``skip`` a bad sample (counted, reported with examples) or ``raise`` at once.
        seed: seed of the default synthetic sources and of the mixing table.
    """

    def __init__(
            self,
            charset: str = "alnum36",
            case_sensitive: Optional[bool] = None,
            channels: int = 3,
            height: int = 32,
            max_width: int = 320,
            pad_to: str = "max",
            batch_size: int = 64,
            num_workers: int = 1,
            train_sources: Optional[List[TextSource]] = None,
            val_sources: Optional[List[TextSource]] = None,
            test_sources: Optional[List[TextSource]] = None,
            train_size: Optional[int] = None,
            predict_paths: Optional[List[str]] = None,
            on_error: str = "skip",
            seed: int = 0,
    ):
        super().__init__()
        if pad_to not in ("max", "batch"):
            raise ValueError(f"pad_to must be 'max' or 'batch', got {pad_to!r}")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        self.charset = Charset.from_spec(charset, case_sensitive)
        self.channels, self.height, self.max_width = channels, height, max_width
        self.batch_size, self.num_workers = batch_size, num_workers
        self.on_error = on_error
        self.collate = LineCollator(pad_to=max_width if pad_to == "max" else None)
        self.train_sources = ([SyntheticTextSource(seed=seed)] if train_sources is None else train_sources)
        self.val_sources = ([SyntheticTextSource(size=2000, seed=seed + VAL_SEED_OFFSET)]
                            if val_sources is None else val_sources)
        self.test_sources = ([SyntheticTextSource(size=2000, seed=seed + TEST_SEED_OFFSET)]
                             if test_sources is None else test_sources)
        self.train_size, self.seed = train_size, seed
        self.predict_paths = predict_paths or []
        self._resume_from: Optional[Dict[str, int]] = None

    # linked into the task by the CLI
    @property
    def charset_symbols(self) -> List[str]:
        return list(self.charset.symbols)

    @property
    def case_sensitive(self) -> bool:
        return self.charset.case_sensitive

    def _dataset(self, sources: List[TextSource], mixed_size: Optional[int] = None, require_label: bool = True):
        source = sources[0] if len(sources) == 1 else MixedSource(sources, size=mixed_size, seed=self.seed)
        return TextLineDataset(source, self.charset, self.height, self.max_width, self.channels, self.on_error,
                               require_label=require_label)

    def _loader(self, dataset, sampler: Optional[ResumableSampler] = None) -> DataLoader:
        """Training loaders have a sampler (shuffled shards, full batches); evaluation ones run in order."""
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, drop_last=sampler is not None,
                          num_workers=self.num_workers, collate_fn=self.collate,
                          persistent_workers=self.num_workers > 0, worker_init_fn=_single_threaded_worker)

    def train_dataloader(self) -> DataLoader:
        if not self.train_sources:
            raise ValueError("no training data: data.train_sources is empty")
        dataset = self._dataset(self.train_sources, self.train_size)
        position = self._resume_from or {}
        self._resume_from = None
        sampler = ResumableSampler(dataset, seed=self.seed, epoch=position.get("epoch", 0),
                                   skip=position.get("batches", 0) * self.batch_size)
        if position:
            # the sampler skips what was trained; Lightning cannot see that and would warn otherwise
            warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before")
        return self._loader(dataset, sampler)

    # the data position travels in the checkpoint, so that a resumed run continues the epoch where it stopped
    def state_dict(self) -> Dict[str, int]:
        return resume_position(self.trainer) or {}

    def load_state_dict(self, state_dict: Dict[str, int]) -> None:
        self._resume_from = dict(state_dict) or None

    def _evaluation_loader(self, sources: List[TextSource]):
        if not sources:
            return []
        return self._loader(ConcatDataset([self._dataset([s]) for s in sources]))

    def val_dataloader(self):
        return self._evaluation_loader(self.val_sources)

    def test_dataloader(self):
        return self._evaluation_loader(self.test_sources)

    def predict_dataloader(self) -> DataLoader:
        if not self.predict_paths:
            raise ValueError("nothing to predict: set data.predict_paths to image files or folders")
        source = ImageFilesSource(self.predict_paths)
        if len(source) == 0:
            raise ValueError(f"no images found in data.predict_paths={self.predict_paths}")
        return self._loader(self._dataset([source], require_label=False))
