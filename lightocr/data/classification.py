"""Image classification data: an image-folder layout, label files, and built-in rendered glyphs; the class list,
the input settings and the albumentations pipelines of a run, set from YAML.

A source maps an index (and the epoch) to ``(image, class name, key)`` as the text sources do, so label files
(``relative/path<TAB>class``, ``LabelFileSource``) and unlabelled folders (``ImageFilesSource``) serve both
tasks. The data module owns the class list (given, or read from the training source) and the input settings
(size, mean, std, crop: the backbone's ``pretrained_cfg`` unless the config sets them); LightningCLI links both
into the task, so ``num_classes`` is never written in a config and a checkpoint classifies as it was trained.
"""
from __future__ import annotations

import string
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import albumentations as A
import numpy as np
import timm
import torch
from PIL import Image
from torch.utils.data import DataLoader

from ..errors import DataError
from .image_inputs import ImageSamples, default_eval_steps, to_input
from .samples import DEFAULT_MAX_PIXELS, SkippedSample, bad_sample, check_on_error
from .base_datamodule import BaseDataModule
from .sources import IMAGE_SUFFIXES, LabelFileSource, Sample, SampleSource, open_image
from .synthetic import DEFAULT_FONT_DIRS, HAIRLINE_FONTS, FontPool, LineRenderer, TextSampler
from .transforms import build_pipeline, seed_pipeline

GLYPHS = string.digits + string.ascii_uppercase + string.ascii_lowercase
VAL_SEED_OFFSET, TEST_SEED_OFFSET = 1_000_003, 2_000_003


class ImageFolderSource(SampleSource):
    """``root/<class>/<image>``: one folder per class (the class list is the sorted folder names). An empty class
    folder is an error that names it: its class could never be learned or scored."""

    def __init__(self, root: str, ratio: float = 1.0, name: Optional[str] = None):
        self.root = Path(root)
        super().__init__(ratio, name)
        if not self.root.is_dir():
            raise DataError(f"image folder not found: {root}")
        self.classes = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        if not self.classes:
            raise DataError(f"{root} has no class folders (expected {root}/<class>/<image>)")
        self.entries: List[Tuple[str, str]] = []
        for name in self.classes:
            files = sorted(p for p in (self.root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise DataError(f"class folder {self.root / name} holds no image ({', '.join(IMAGE_SUFFIXES)})")
            self.entries.extend((str(p), name) for p in files)

    def default_name(self) -> str:
        return self.root.name

    def __len__(self) -> int:
        return len(self.entries)

    def key(self, index: int, epoch: int = 0) -> str:
        return self.entries[index][0]

    def load(self, index: int, epoch: int = 0) -> Sample:
        path, label = self.entries[index]
        return open_image(path, path), label, path

    def describe(self) -> str:
        return f"image folder {self.root} ({len(self.entries)} images, {len(self.classes)} classes)"


class GlyphSource(SampleSource):
    """Single characters (``classes``: one symbol each, default 0-9, A-Z, a-z) drawn by the text lines'
    ``LineRenderer`` in the fonts of a ``FontPool`` (``font_dirs`` ... ``hershey_fonts``), sizes and colours, on a
    square canvas with a random offset. Needs no download."""

    def __init__(self, size: int = 50_000, seed: int = 0, classes: str = GLYPHS,
                 font_dirs: Sequence[str] = DEFAULT_FONT_DIRS, builtin_font: bool = True,
                 font_include: Optional[Sequence[str]] = None,
                 font_exclude: Optional[Sequence[str]] = HAIRLINE_FONTS, hershey_fonts: bool = True,
                 font_size: Tuple[int, int] = (22, 40), font_box_ratio: float = 0.5, ratio: float = 1.0,
                 name: Optional[str] = None):
        super().__init__(ratio, name)
        self.size, self.seed, self.classes = size, seed, list(classes)
        self.font_pool = FontPool(font_dirs, builtin_font, font_include, font_exclude, hershey_fonts)
        # one symbol of ``classes`` per draw, in their case
        self.sampler = TextSampler(classes, min_length=1, max_length=1, word_ratio=0.0, upper_ratio=0.0,
                                   lexicon=None, lexicon_ratio=0.0, number_ratio=0.0, fonts=self.font_pool,
                                   name=self.describe())
        self.renderer = LineRenderer(self.font_pool, font_size, font_box_ratio)

    def default_name(self) -> str:
        return "glyphs"

    def __len__(self) -> int:
        return self.size

    def key(self, index: int, epoch: int = 0) -> str:
        return f"glyphs(seed={self.seed}, epoch={epoch}):{index}"

    def load(self, index: int, epoch: int = 0) -> Sample:
        if not 0 <= index < self.size:
            raise IndexError(f"glyph index {index} outside 0..{self.size - 1}")
        rng = np.random.default_rng([self.seed, epoch, index])
        label = self.sampler.text(rng)
        image = self.renderer.render(label, rng)
        rng = np.random.default_rng([self.seed, epoch, index, 1])
        side = max(image.size)
        canvas = Image.new("RGB", (side, side), image.getpixel((0, 0)))
        offset = (int(rng.integers(0, side - image.width + 1)), int(rng.integers(0, side - image.height + 1)))
        canvas.paste(image, offset)
        return canvas, label, self.key(index, epoch)

    def describe(self) -> str:
        return f"glyphs ({self.size} per epoch, seed {self.seed}, {len(self.font_pool)} fonts)"


def default_train_steps(size: int) -> List[Dict[str, Any]]:
    """Random resized crop, horizontal flip, colour jitter: the usual ImageNet-style training pipeline."""
    return [dict(transform="RandomResizedCrop", size=(size, size), scale=(0.25, 1.0)),
            dict(transform="HorizontalFlip"),
            dict(transform="ColorJitter", brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05)]


class ClassificationDataset(ImageSamples):
    """``{"image", "target", "key"}`` samples of a source, or ``SkippedSample`` (an unreadable or too large image;
    a class outside the class list, named with its sample; a transform that fails on it). ``input_config``:
    ``size``, ``channels``, ``mean``, ``std``, ``crop_pct``."""

    def __init__(self, source: SampleSource, classes: Sequence[str], input_config: Dict[str, Any],
                 pipeline: A.Compose, on_error: str = "skip", require_label: bool = True, seed: int = 0,
                 max_pixels: int = DEFAULT_MAX_PIXELS):
        super().__init__(source, input_config, on_error, require_label, seed, max_pixels)
        self.index = {name: i for i, name in enumerate(classes)}
        self.pipeline = pipeline

    def __getitem__(self, item: Union[int, Tuple[int, int]]) -> Union[Dict, SkippedSample]:
        loaded = self.load(item)
        if isinstance(loaded, SkippedSample):
            return loaded
        image, label, key, epoch, index = loaded
        if self.require_label and label not in self.index:
            return bad_sample(self.on_error, key, "unknown_class", f"class {label!r} is not in the class list")

        def make() -> Dict:
            seed_pipeline(self.pipeline, self.sample_seed(epoch, index))
            image_input = torch.from_numpy(to_input(image, self.input_config, self.pipeline))
            return dict(image=image_input, target=self.index.get(label, -1), key=key)
        return self.transformed(key, make)


def collate_images(samples: List) -> Dict[str, Any]:
    """Stack the usable samples; the skipped ones are listed in ``skipped``."""
    kept = [s for s in samples if not isinstance(s, SkippedSample)]
    skipped = [s for s in samples if isinstance(s, SkippedSample)]
    if not kept:
        return dict(images=torch.zeros(0), targets=torch.zeros(0, dtype=torch.long), keys=[], skipped=skipped)
    return dict(images=torch.stack([s["image"] for s in kept]), targets=torch.tensor([s["target"] for s in kept]),
                keys=[s["key"] for s in kept], skipped=skipped)


class ClassificationDataModule(BaseDataModule):
    """Images for classification.

    Args:
        train_source, val_source, test_source: a source each (``class_path``/``init_args`` in YAML):
            ``ImageFolderSource``, ``LabelFileSource`` or ``GlyphSource``; None gives rendered glyphs (validation
            and test with their own seeds).
        classes: the class list; None reads it from the training source (its folders or glyphs, or the sorted
            labels of a label file).
        predict_paths: image files or folders for ``predict``.
        backbone: the task's backbone (linked by the CLI): its ``pretrained_cfg`` gives the input settings that
            the config leaves out.
        channels, input_size, mean, std, crop_pct: the input settings.
        train_transforms, eval_transforms: albumentations steps (``{transform: RandomResizedCrop, size: [224,
            224]}``); None: random resized crop, flip and colour jitter for training, resize and centre crop for
            evaluation.
        on_error: ``skip`` a bad sample (counted, reported with examples) or ``raise`` at once.
        max_pixels: images with more pixels, or that would have more once their shorter side is scaled to the
            input size, are skipped (``too_large``) before they are decoded.
    """

    def __init__(
            self,
            train_source: Optional[SampleSource] = None,
            val_source: Optional[SampleSource] = None,
            test_source: Optional[SampleSource] = None,
            predict_paths: Optional[List[str]] = None,
            classes: Optional[List[str]] = None,
            backbone: Optional[str] = None,
            channels: int = 3,
            input_size: Optional[int] = None,
            mean: Optional[Sequence[float]] = None,
            std: Optional[Sequence[float]] = None,
            crop_pct: Optional[float] = None,
            train_transforms: Optional[List[Dict[str, Any]]] = None,
            eval_transforms: Optional[List[Dict[str, Any]]] = None,
            batch_size: int = 64,
            num_workers: int = 1,
            on_error: str = "skip",
            max_pixels: int = DEFAULT_MAX_PIXELS,
            seed: int = 0,
    ):
        super().__init__(batch_size, num_workers, predict_paths)
        check_on_error(on_error)
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels}")
        self.train_source = train_source if train_source is not None else GlyphSource(seed=seed)
        self.val_source = val_source if val_source is not None else GlyphSource(2000, seed + VAL_SEED_OFFSET)
        self.test_source = test_source if test_source is not None else GlyphSource(2000, seed + TEST_SEED_OFFSET)
        self.class_names = list(classes) if classes is not None else source_classes(self.train_source)
        if len(set(self.class_names)) != len(self.class_names) or len(self.class_names) < 2:
            raise ValueError(f"classes must be at least two distinct names, got {self.class_names[:10]}")
        cfg = timm.get_pretrained_cfg(backbone).to_dict() if backbone and timm.get_pretrained_cfg(backbone) else {}
        self.channels = channels
        self.input_config = dict(
            size=int(input_size or cfg.get("input_size", (3, 224, 224))[-1]), channels=channels,
            mean=list(mean or cfg.get("mean", (0.485, 0.456, 0.406))),
            std=list(std or cfg.get("std", (0.229, 0.224, 0.225))),
            crop_pct=float(crop_pct or cfg.get("crop_pct", 0.875)))
        size = self.input_config["size"]
        self.train_steps = train_transforms if train_transforms is not None else default_train_steps(size)
        self.eval_steps = (eval_transforms if eval_transforms is not None
                           else default_eval_steps(size, self.input_config["crop_pct"]))
        build_pipeline(self.train_steps), build_pipeline(self.eval_steps)  # a bad step fails here, not in a worker
        self.on_error, self.seed, self.max_pixels = on_error, seed, max_pixels

    def dataset(self, source: SampleSource, steps: List[Dict[str, Any]], require_label: bool = True,
                seed: int = 0) -> ClassificationDataset:
        return ClassificationDataset(source, self.class_names, self.input_config, build_pipeline(steps),
                                     self.on_error, require_label, seed, self.max_pixels)

    def train_dataloader(self) -> DataLoader:
        dataset = self.dataset(self.train_source, self.train_steps, seed=self.seed)
        return self.loader(dataset, collate_images, self.training_sampler(dataset, self.batch_size, self.seed))

    def val_dataloader(self) -> DataLoader:
        return self.loader(self.dataset(self.val_source, self.eval_steps), collate_images)

    def test_dataloader(self) -> DataLoader:
        return self.loader(self.dataset(self.test_source, self.eval_steps), collate_images)

    def predict_dataloader(self) -> DataLoader:
        return self.loader(self.dataset(self.predict_images(), self.eval_steps, require_label=False), collate_images)

    @property
    def input_settings(self) -> Dict[str, Any]:
        """Linked into the task: how an image becomes its input, saved with the weights for ``predict``."""
        return dict(self.input_config, eval_transforms=self.eval_steps)


def source_classes(source: SampleSource) -> List[str]:
    """A source's class list: its own (folders, glyphs), or a label file's sorted labels."""
    if hasattr(source, "classes"):
        return list(source.classes)
    if isinstance(source, LabelFileSource):
        return sorted({label for _, _, label in source.entries})
    raise ValueError(f"{source.describe()} has no class list: set data.init_args.classes")
