"""Albumentations pipelines from YAML steps, and the training augmentation of text lines (the input geometry
itself is ``lightocr.data.geometry``). No torch: the classification reader builds its pipeline here too."""
import random
from typing import Any, Dict, Sequence, Tuple

import albumentations as A
import cv2
import numpy as np
from PIL import Image


def build_transform(step: Dict[str, Any]) -> A.BasicTransform:
    """One albumentations transform from YAML: ``{transform: <class name>, <its args>}``; the ``transforms`` of
    ``OneOf`` and ``SomeOf`` are steps too."""
    step = dict(step)
    name = step.pop("transform", None)
    if not name or not hasattr(A, name):
        raise ValueError(f"unknown albumentations transform {name!r} in {step} (write transform: <class name>)")
    if "transforms" in step:
        step["transforms"] = [build_transform(inner) for inner in step["transforms"]]
    return getattr(A, name)(**step)


def build_pipeline(steps: Sequence[Dict[str, Any]], keypoints: bool = False) -> A.Compose:
    """An albumentations pipeline from YAML steps (``build_transform``); with ``keypoints``, it moves ``(x, y)``
    points with the image (a page's polygons), keeping those that leave it."""
    keypoint_params = A.KeypointParams(format="xy", remove_invisible=False) if keypoints else None
    return A.Compose([build_transform(step) for step in steps], keypoint_params=keypoint_params)


# The distortions of a training line, as albumentations steps (the data module's ``augment`` takes a list like it
# from YAML, each strength a setting). Small, so that the text stays readable: geometry (tilt, shear, perspective,
# slight curvature), stroke width (erosion or dilation), uneven lighting and texture, low resolution then upscaling,
# blur, noise, contrast and JPEG.
DEFAULT_LINE_AUGMENT: Tuple[Dict[str, Any], ...] = (
    dict(transform="Affine", rotate=(-3, 3), shear={"x": (-12, 12), "y": (-2, 2)}, scale=(0.95, 1.05),
         fit_output=True, border_mode=cv2.BORDER_REPLICATE, p=0.6),
    dict(transform="Perspective", scale=(0.01, 0.04), fit_output=True, border_mode=cv2.BORDER_REPLICATE, p=0.3),
    dict(transform="OpticalDistortion", distort_limit=(-0.08, 0.08), border_mode=cv2.BORDER_REPLICATE, p=0.2),
    dict(transform="Morphological", scale=(2, 2), operation="erosion", p=0.1),
    dict(transform="Morphological", scale=(2, 2), operation="dilation", p=0.1),
    dict(transform="Illumination", mode="linear", intensity_range=(0.05, 0.2), p=0.2),
    dict(transform="PlasmaBrightnessContrast", brightness_range=(-0.15, 0.15), contrast_range=(-0.15, 0.15),
         p=0.15),
    dict(transform="Downscale", scale_range=(0.5, 0.9), p=0.2),
    dict(transform="OneOf", transforms=[dict(transform="GaussianBlur", blur_limit=(3, 5)),
                                        dict(transform="MotionBlur", blur_limit=(3, 5))], p=0.3),
    dict(transform="GaussNoise", std_range=(0.02, 0.08), p=0.3),
    dict(transform="RandomBrightnessContrast", brightness_limit=0.2, contrast_limit=0.3, p=0.3),
    dict(transform="ImageCompression", quality_range=(40, 95), p=0.2),
)


def default_augment() -> A.Compose:
    """``DEFAULT_LINE_AUGMENT`` as a pipeline."""
    return build_pipeline(DEFAULT_LINE_AUGMENT)


def seed_pipeline(pipeline: A.BaseCompose, seed: int) -> None:
    """Fix the randomness of ``pipeline`` by ``seed``: one numpy and one Python generator that its steps draw from in
    turn, so that each step's choices are independent of the others'. (Albumentations' ``set_random_seed`` gives
    every step a generator of the same seed: their first draws are equal, so a step with p=0.2 applied only
    when every step with a larger p did, and a sample got all of its distortions or the few most likely ones.)"""
    pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))


def augment_line(augment: A.Compose, image: Image.Image, seed: int) -> Image.Image:
    """Apply ``augment`` with its randomness fixed by ``seed`` (the same sample gets the same distortion)."""
    seed_pipeline(augment, seed)
    return Image.fromarray(augment(image=np.asarray(image.convert("RGB")))["image"])
