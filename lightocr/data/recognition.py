"""The text-recognition DataModule: sources, charset, input geometry, augmentation and loaders, set from YAML.

It owns the one ``Charset`` and the one ``LineGeometry`` of a run; LightningCLI links ``charset_symbols``,
``case_sensitive``, ``channels`` and ``input_geometry`` into the task, so that the CTC head is sized from the
data, the checkpoint knows how its inputs were shaped, and no value is written twice in a config.
"""
from typing import Any, Dict, List, Optional, Union

from torch.utils.data import DataLoader

from ..ocr.charset import Charset
from .dataset import LineCollator, TextLineDataset, WidthPoolCollator
from .geometry import LineGeometry
from .samples import DEFAULT_MAX_PIXELS, check_on_error
from .base_datamodule import BaseDataModule
from .samplers import PooledLoader
from .sources import MixedSource, SampleSource
from .synthetic import SyntheticTextSource
from .transforms import DEFAULT_LINE_AUGMENT, build_pipeline

VAL_SEED_OFFSET, TEST_SEED_OFFSET = 1_000_003, 2_000_003


def line_augment(setting: Union[bool, List[Dict[str, Any]]]):
    """The augmentation pipeline a setting names: True the default steps, a list its own steps, False none."""
    if setting is True:
        return build_pipeline(DEFAULT_LINE_AUGMENT)
    return build_pipeline(setting) if setting else None


def unique_names(sources: List[SampleSource]) -> List[str]:
    """The sources' names, with ``_2``, ``_3``, ... added where two would share one."""
    names: List[str] = []
    for source in sources:
        name, number = source.name, 1
        while name in names:
            number += 1
            name = f"{source.name}_{number}"
        names.append(name)
    return names


class TextRecognitionDataModule(BaseDataModule):
    """Text lines for CRNN training.

    Args:
        charset: a preset (``digits``, ``alnum36``, ``alnum62``, ``printable``) or a dictionary file.
        case_sensitive: None: the preset's default (``alnum36`` is case-insensitive, the others are not).
        channels, height, max_width, pad_to: the input geometry (``LineGeometry``): images are converted to
            ``channels`` (1 grayscale, 3 RGB), scaled to ``height`` keeping their aspect ratio (wider ones
            squeezed to ``max_width``), and a batch is padded to ``max_width`` (``max``) or to its widest line
            (``batch``). The model is built to match, and its checkpoints keep the geometry for reading.
        train_sources, val_sources, test_sources: lists of sources (``class_path``/``init_args`` in YAML);
            None gives synthetic lines in the charset's symbols (validation and test with their own seeds);
            ``[]`` gives no loader. Several training sources are mixed by their ``ratio``; each validation
            source is also reported on its own (``val/<name>/...``).
        train_size: training samples per epoch when several sources are mixed (default: their total).
        width_pool: with ``pad_to="batch"``, load this many training batches at a time, sort their lines by width
            and cut them into batches again, so that lines of like width share a batch and less of it is padding
            (bucketing by length, as speech and translation trainers do). 1 keeps every batch as drawn. The same
            lines are trained, and a resume skips exactly what was trained.
        augment: distort training lines, every source alike: True for ``DEFAULT_LINE_AUGMENT`` (tilt, curvature,
            stroke width, lighting, texture, low resolution, blur, noise, JPEG), or a list of albumentations steps
            (``{transform: Morphological, scale: [2, 3], p: 0.2}``: each strength a setting), or False.
        augment_eval: the same for validation and test lines (default False).
        predict_paths: image files or folders for ``predict``.
        on_error: ``skip`` a bad sample (counted, reported with examples) or ``raise`` at once.
        max_pixels: images with more pixels are skipped (``too_large``) before they are decoded.
        seed: seed of the default synthetic sources, the mixing, the shuffling and the augmentation.
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
            train_sources: Optional[List[SampleSource]] = None,
            val_sources: Optional[List[SampleSource]] = None,
            test_sources: Optional[List[SampleSource]] = None,
            train_size: Optional[int] = None,
            width_pool: int = 1,
            augment: Union[bool, List[Dict[str, Any]]] = True,
            augment_eval: Union[bool, List[Dict[str, Any]]] = False,
            predict_paths: Optional[List[str]] = None,
            on_error: str = "skip",
            max_pixels: int = DEFAULT_MAX_PIXELS,
            seed: int = 0,
    ):
        super().__init__(batch_size, num_workers, predict_paths)
        check_on_error(on_error)
        self.charset = Charset.from_spec(charset, case_sensitive)
        self.geometry = LineGeometry(height=height, max_width=max_width, channels=channels, pad_to=pad_to)
        self.channels = channels
        self.on_error, self.max_pixels = on_error, max_pixels
        self.collate = LineCollator(self.geometry)
        self.train_sources = [SyntheticTextSource(seed=seed)] if train_sources is None else train_sources
        self.val_sources = ([SyntheticTextSource(size=2000, seed=seed + VAL_SEED_OFFSET)]
                            if val_sources is None else val_sources)
        self.test_sources = ([SyntheticTextSource(size=2000, seed=seed + TEST_SEED_OFFSET)]
                             if test_sources is None else test_sources)
        for source in self.train_sources + self.val_sources + self.test_sources:
            source.use_charset(self.charset.symbols, self.charset.case_sensitive)
        if width_pool < 1:
            raise ValueError(f"width_pool must be at least 1, got {width_pool}")
        self.train_size, self.width_pool, self.seed = train_size, width_pool, seed
        self.augment, self.augment_eval = augment, augment_eval
        line_augment(augment), line_augment(augment_eval)  # a bad step fails here, not in a loader worker

    # linked into the task by the CLI
    @property
    def charset_symbols(self) -> List[str]:
        return list(self.charset.symbols)

    @property
    def case_sensitive(self) -> bool:
        return self.charset.case_sensitive

    @property
    def input_geometry(self) -> Dict[str, Any]:
        return self.geometry.as_dict()

    @property
    def val_source_names(self) -> List[str]:
        """Names under which each validation source is reported (``val/<name>/word_acc``)."""
        return unique_names(self.val_sources)

    def _dataset(self, sources: List[SampleSource], augment: Union[bool, List[Dict[str, Any]]],
                 mixed_size: Optional[int] = None,
                 require_label: bool = True) -> TextLineDataset:
        source = sources[0] if len(sources) == 1 else MixedSource(sources, size=mixed_size, seed=self.seed)
        return TextLineDataset(source, self.charset, self.geometry, self.on_error, require_label=require_label,
                               augment=line_augment(augment), seed=self.seed, max_pixels=self.max_pixels)

    def train_dataloader(self) -> Union[DataLoader, PooledLoader]:
        if not self.train_sources:
            raise ValueError("no training data: data.train_sources is empty")
        dataset = self._dataset(self.train_sources, self.augment, self.train_size)
        pool = self.width_pool if self.geometry.pad_to == "batch" else 1  # padded to max_width, nothing to gain
        sampler = self.training_sampler(dataset, self.batch_size, self.seed, pool)
        collate = WidthPoolCollator(self.collate, sampler.pool) if sampler.pool > 1 else self.collate
        loader = self.loader(dataset, collate, sampler, sampler.pool)
        return PooledLoader(loader) if sampler.pool > 1 else loader

    def _evaluation_loaders(self, sources: List[SampleSource]) -> List[DataLoader]:
        """One loader per source, in order, so that each is scored on its own as well as pooled."""
        return [self.loader(self._dataset([source], self.augment_eval), self.collate) for source in sources]

    def val_dataloader(self):
        return self._evaluation_loaders(self.val_sources)

    def test_dataloader(self):
        return self._evaluation_loaders(self.test_sources)

    def predict_dataloader(self) -> DataLoader:
        return self.loader(self._dataset([self.predict_images()], augment=False, require_label=False), self.collate)
