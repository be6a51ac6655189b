"""The text-detection data: pages with their text regions (``SyntheticPageSource``, label files), their
augmentation with the polygons moved in step (albumentations keypoints), DB's targets, and the DataModule.

A region that cannot be used (fewer than 3 points, a coordinate that is not a finite number, no area once
clipped to its page) is left out of its page and counted as ``bad_region``, naming the page and the region; the
page is still used. A page without text is a valid sample with empty maps. Text marked ``###`` is don't-care:
no loss on it, and never to be found.
"""
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from ..tasks.detection.targets import DBTargets
from .base_datamodule import BaseDataModule
from .page_inputs import STRIDE, PageGeometry
from .pages import SyntheticPageSource
from .samples import DEFAULT_MAX_PIXELS, SkippedSample, SourceDataset, bad_sample, check_on_error
from .sources import DONT_CARE, MixedSource, Region, SampleSource
from .transforms import build_pipeline, seed_pipeline

VAL_SEED_OFFSET, TEST_SEED_OFFSET = 1_000_003, 2_000_003
# Rotation (small, and now and then by 90 degrees), perspective, curvature, then the photometric distortions
# of a camera or a scanner; each strength a setting (the data module's ``augment`` takes a list like it).
DEFAULT_PAGE_AUGMENT: Tuple[Dict[str, Any], ...] = (
    dict(transform="Affine", rotate=(-8, 8), scale=(0.8, 1.1), fit_output=True, border_mode=cv2.BORDER_REPLICATE,
         p=0.6),
    dict(transform="RandomRotate90", p=0.1),
    dict(transform="Perspective", scale=(0.02, 0.06), fit_output=True, p=0.3),
    dict(transform="OpticalDistortion", distort_limit=(-0.1, 0.1), border_mode=cv2.BORDER_REPLICATE, p=0.2),
    dict(transform="OneOf", transforms=[dict(transform="GaussianBlur", blur_limit=(3, 5)),
                                        dict(transform="MotionBlur", blur_limit=(3, 5))], p=0.2),
    dict(transform="GaussNoise", std_range=(0.02, 0.08), p=0.2),
    dict(transform="RandomBrightnessContrast", brightness_limit=0.2, contrast_limit=0.3, p=0.3),
    dict(transform="ImageCompression", quality_range=(40, 95), p=0.2),
)


def augment_page(augment: Callable, pixels: np.ndarray, polygons: List[np.ndarray], seed: int,
                 ) -> Tuple[np.ndarray, List[np.ndarray]]:
    """A page and its polygons distorted together by an albumentations pipeline with keypoints, seeded."""
    seed_pipeline(augment, seed)
    flat = np.concatenate(polygons) if polygons else np.zeros((0, 2), np.float32)
    moved = augment(image=pixels, keypoints=flat)
    points = np.asarray(moved["keypoints"], np.float32).reshape(-1, 2)
    return moved["image"], (np.split(points, np.cumsum([len(p) for p in polygons])[:-1]) if polygons else [])


def usable_regions(regions: Sequence[Region], width: int, height: int, key: str, on_error: str,
                   ) -> Tuple[List[Tuple[np.ndarray, bool]], List[SkippedSample]]:
    """``(points clipped to the page, don't-care)`` of each usable region, and the ``bad_region`` of the others
    (named by their file and line when they were read from one)."""
    usable, bad = [], []
    for index, region in enumerate(regions):
        try:
            points = np.asarray(region.polygon, dtype=np.float32)
        except (TypeError, ValueError):
            points = np.zeros((0, 2), np.float32)
        problem = (region.problem or
                   ("fewer than 3 points" if points.ndim != 2 or points.shape[1:] != (2,) or len(points) < 3 else
                    "a coordinate that is not a finite number" if not np.isfinite(points).all() else None))
        if problem is None:
            points = np.clip(points, 0, (width, height)).astype(np.float32)
            problem = "no area inside the page" if cv2.contourArea(points) <= 0 else None
        if problem:
            where = region.origin or f"{key}: region {index}"
            bad.append(bad_sample(on_error, f"{where} ({region.text!r})", "bad_region", problem))
        else:
            usable.append((points, region.text == DONT_CARE))
    return usable, bad


def free_start(rng: np.random.Generator, spans: Sequence[Tuple[float, float]], length: int, window: int) -> int:
    """A start in ``0 .. length - window`` for a window along one axis, drawn among the positions that no text
    ``spans`` cover when there are some (so that the window's first edge cuts no line), else anywhere."""
    starts = np.arange(max(length - window, 0) + 1)
    covered = np.zeros(len(starts), bool)
    for low, high in spans:
        covered[int(np.floor(max(low, 0))):int(np.ceil(max(high, 0))) + 1] = True
    free = starts[~covered[:len(starts)]]
    return int(rng.choice(free if len(free) else starts))


def crop_page(array: np.ndarray, polygons: List[np.ndarray], ignore: List[bool], window: int,
              rng: np.random.Generator) -> Tuple[np.ndarray, List[np.ndarray], List[bool]]:
    """A ``window x window`` cut of a page ``(channels, height, width)`` (padded with 0 where the page is
    smaller), its corner where no text line is cut if one can be; regions wholly inside keep their label,
    regions the window cuts become don't-care (their visible part is not a whole line), the others are left out
    (the training crop of PaddleOCR's ``EastRandomCropData``, on a page scaled as for reading)."""
    x0 = free_start(rng, [(p[:, 0].min(), p[:, 0].max()) for p in polygons], array.shape[2], window)
    y0 = free_start(rng, [(p[:, 1].min(), p[:, 1].max()) for p in polygons], array.shape[1], window)
    cut = np.zeros((array.shape[0], window, window), np.float32)
    visible = array[:, y0:y0 + window, x0:x0 + window]
    cut[:, :visible.shape[1], :visible.shape[2]] = visible
    inside, kept_ignore = [], []
    for points, ignored in zip(polygons, ignore):
        moved = points - (x0, y0)
        clipped = np.clip(moved, 0, (visible.shape[2], visible.shape[1]))
        if cv2.contourArea(clipped.astype(np.float32)) <= 0:
            continue
        inside.append(clipped)
        kept_ignore.append(ignored or bool(np.abs(clipped - moved).max() > 1))
    return cut, inside, kept_ignore


class PageDataset(SourceDataset):
    """Pages of a source as ``{"image", "prob", "prob_mask", "thresh", "thresh_mask", "regions", "scale",
    "key", "region_skips"}``, or ``SkippedSample``: distorted by ``augment`` (albumentations, with keypoints),
    shaped by ``geometry`` and padded to ``size x size`` (or, with ``crop``, cut to a ``crop x crop`` window by
    ``crop_page``), with DB's ``targets`` of their usable regions."""

    def __init__(self, source: SampleSource, geometry: PageGeometry, targets: Optional[DBTargets] = None,
                 augment: Optional[Callable] = None, on_error: str = "skip", require_label: bool = True,
                 seed: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS, crop: Optional[int] = None):
        super().__init__(source, on_error, require_label, seed, max_pixels)
        self.geometry, self.targets, self.augment, self.crop = geometry, targets or DBTargets(), augment, crop

    def __getitem__(self, item: Union[int, Tuple[int, int]]) -> Union[Dict[str, Any], SkippedSample]:
        loaded = self.load(item)
        if isinstance(loaded, SkippedSample):
            return loaded
        image, regions, key, epoch, index = loaded
        usable, region_skips = usable_regions(regions or [], image.width, image.height, key, self.on_error)

        def make() -> Dict[str, Any]:
            pixels, polygons = np.asarray(image.convert("RGB")), [points for points, _ in usable]
            if self.augment is not None:
                pixels, polygons = augment_page(self.augment, pixels, polygons, self.sample_seed(epoch, index))
            array, scale = self.geometry.to_array(Image.fromarray(pixels))
            polygons = [np.clip(p * scale, 0, (array.shape[2], array.shape[1])) for p in polygons]
            ignore = [dont_care for _, dont_care in usable]
            if self.crop:
                page, polygons, ignore = crop_page(array, polygons, ignore, self.crop,
                                                   np.random.default_rng(self.sample_seed(epoch, index)))
            else:
                page = np.zeros((array.shape[0], self.geometry.size, self.geometry.size), np.float32)
                page[:, :array.shape[1], :array.shape[2]] = array
            size = page.shape[1]
            maps = self.targets(polygons, ignore, size, size)
            return dict(image=torch.from_numpy(page), **{k: torch.from_numpy(v) for k, v in maps.items()},
                        regions=list(zip(polygons, ignore)), scale=scale, key=key, region_skips=region_skips)
        return self.transformed(key, make)


def collate_pages(samples: List) -> Dict[str, Any]:
    """Stack the usable pages and their maps; ``skipped`` lists the pages left out and the regions left out of
    the others; ``regions`` keeps each page's true ``(points, don't-care)`` for scoring."""
    kept = [s for s in samples if not isinstance(s, SkippedSample)]
    skipped = [s for s in samples if isinstance(s, SkippedSample)] + [r for s in kept for r in s["region_skips"]]
    batch: Dict[str, Any] = dict(keys=[s["key"] for s in kept], skipped=skipped,
                                 regions=[s["regions"] for s in kept],
                                 scales=torch.tensor([s["scale"] for s in kept], dtype=torch.float32))
    for name in ("image", "prob", "prob_mask", "thresh", "thresh_mask"):
        batch["images" if name == "image" else name] = (torch.stack([s[name] for s in kept]) if kept
                                                       else torch.zeros(0))
    return batch


class DetectionDataModule(BaseDataModule):
    """Pages for text detection.

    Args:
        train_sources, val_sources, test_sources: lists of sources (``class_path``/``init_args`` in YAML) whose
            labels are ``Region`` lists; None gives synthetic pages (validation and test with their own seeds).
            Several training sources are mixed by their ``ratio``.
        train_size: training pages per epoch when several sources are mixed (default: their total).
        size, channels, mean, std: the input (``PageGeometry``): the longer side of a page in pixels, in
            validation, testing and reading.
        train_crop: train on ``train_crop x train_crop`` windows cut from pages scaled as for reading
            (``crop_page``): text at the scale it is read, at the cost of a smaller input (None: whole pages,
            padded to ``size x size``).
        augment: training distortions: True for ``DEFAULT_PAGE_AUGMENT``, a list of albumentations steps, or
            False.
        shrink_ratio, thresh_min, thresh_max, min_text_size: DB's targets (``DBTargets``).
        predict_paths, batch_size, num_workers, on_error, max_pixels, seed: as the other data modules take them.
    """

    def __init__(self, train_sources: Optional[List[SampleSource]] = None,
                 val_sources: Optional[List[SampleSource]] = None, test_sources: Optional[List[SampleSource]] = None,
                 train_size: Optional[int] = None, size: int = 640, train_crop: Optional[int] = None,
                 channels: int = 3,
                 mean: Sequence[float] = (0.485, 0.456, 0.406), std: Sequence[float] = (0.229, 0.224, 0.225),
                 augment: Union[bool, List[Dict[str, Any]]] = True, shrink_ratio: float = 0.4,
                 thresh_min: float = 0.3, thresh_max: float = 0.7, min_text_size: int = 8,
                 predict_paths: Optional[List[str]] = None, batch_size: int = 8, num_workers: int = 1,
                 on_error: str = "skip", max_pixels: int = DEFAULT_MAX_PIXELS, seed: int = 0):
        super().__init__(batch_size, num_workers, predict_paths)
        check_on_error(on_error)
        self.train_sources = [SyntheticPageSource(seed=seed)] if train_sources is None else train_sources
        self.val_sources = ([SyntheticPageSource(200, seed + VAL_SEED_OFFSET)] if val_sources is None
                            else val_sources)
        self.test_sources = ([SyntheticPageSource(200, seed + TEST_SEED_OFFSET)] if test_sources is None
                             else test_sources)
        self.channels = channels
        self.geometry = PageGeometry(size, channels, tuple(mean), tuple(std))
        self.targets = DBTargets(shrink_ratio, thresh_min, thresh_max, min_text_size)
        self.augment_steps = (list(DEFAULT_PAGE_AUGMENT) if augment is True else list(augment) if augment else [])
        build_pipeline(self.augment_steps, keypoints=True)  # a bad step fails here, not in a loader worker
        if train_crop is not None and train_crop < STRIDE:
            raise ValueError(f"train_crop must be at least {STRIDE} pixels, got {train_crop}")
        self.train_size, self.train_crop = train_size, train_crop
        self.on_error, self.max_pixels, self.seed = on_error, max_pixels, seed

    @property
    def input_geometry(self) -> Dict[str, Any]:
        """Linked into the task: how a page becomes its input, saved with the weights."""
        return self.geometry.as_dict()

    def _dataset(self, sources: List[SampleSource], augment: bool = False, require_label: bool = True,
                 ) -> PageDataset:
        source = sources[0] if len(sources) == 1 else MixedSource(sources, size=self.train_size, seed=self.seed)
        pipeline = build_pipeline(self.augment_steps, keypoints=True) if augment and self.augment_steps else None
        return PageDataset(source, self.geometry, self.targets, pipeline, self.on_error, require_label, self.seed,
                           self.max_pixels, crop=self.train_crop if augment else None)

    def train_dataloader(self) -> DataLoader:
        dataset = self._dataset(self.train_sources, augment=True)
        return self.loader(dataset, collate_pages, self.training_sampler(dataset, self.batch_size, self.seed))

    def val_dataloader(self) -> List[DataLoader]:
        return [self.loader(self._dataset([source]), collate_pages) for source in self.val_sources]

    def test_dataloader(self) -> List[DataLoader]:
        return [self.loader(self._dataset([source]), collate_pages) for source in self.test_sources]

    def predict_dataloader(self) -> DataLoader:
        return self.loader(self._dataset([self.predict_images()], require_label=False), collate_pages)
