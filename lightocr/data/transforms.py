"""Text-line images to tensors: the input geometry (height, width rule, channels, normalization) and the
training augmentation. Nothing here depends on the rest of the package."""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import albumentations as A
import cv2
import numpy as np
import torch
from PIL import Image

PAD_RULES = ("max", "batch")


@dataclass(frozen=True)
class LineGeometry:
    """How a text-line image becomes a model input; saved in every recognition checkpoint, so that reading
    with it later shapes the input exactly as training did.

    Lines are converted to ``channels`` (1: grayscale, 3: RGB), scaled to ``height`` keeping their aspect
    ratio, and squeezed to ``max_width`` when wider (PaddleOCR's rule); pixels become ``(x / 255 - mean) / std``.
    A batch is padded on the right with 0 (the normalized middle grey) to ``max_width`` (``pad_to="max"``) or
    to its widest line rounded up to ``multiple`` (``pad_to="batch"``).
    """
    height: int = 32
    max_width: int = 320
    channels: int = 3
    pad_to: str = "max"
    multiple: int = 8
    mean: float = 0.5
    std: float = 0.5

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {self.channels}")
        if self.pad_to not in PAD_RULES:
            raise ValueError(f"pad_to must be one of {PAD_RULES}, got {self.pad_to!r}")
        if self.height < 1 or self.max_width < 1 or self.multiple < 1:
            raise ValueError(f"height, max_width and multiple must be positive, got {self.height}, "
                             f"{self.max_width}, {self.multiple}")
        if self.std <= 0:
            raise ValueError(f"std must be positive, got {self.std}")

    @classmethod
    def from_dict(cls, values: Optional[Mapping[str, Any]]) -> "LineGeometry":
        return cls(**dict(values or {}))

    def as_dict(self) -> Dict[str, Any]:
        """Plain values (what a checkpoint read with ``weights_only=True`` may hold)."""
        return asdict(self)

    def to_tensor(self, image: Image.Image) -> torch.Tensor:
        """``(channels, height, width)`` float tensor of one line; ``width <= max_width``."""
        image = image.convert("L" if self.channels == 1 else "RGB")
        width = max(1, min(self.max_width, round(image.width * self.height / max(image.height, 1))))
        image = image.resize((width, self.height), Image.BILINEAR)
        array = np.asarray(image, dtype=np.float32)
        array = array[None] if self.channels == 1 else array.transpose(2, 0, 1)
        return (torch.from_numpy(np.ascontiguousarray(array)) / 255.0 - self.mean) / self.std

    def batch_width(self, widest: int) -> int:
        return self.max_width if self.pad_to == "max" else -(-widest // self.multiple) * self.multiple


def resize_line(image: Image.Image, height: int = 32, max_width: int = 320, channels: int = 3) -> torch.Tensor:
    """One line as the default geometry (``LineGeometry``) makes it, at another height, width or channels."""
    return LineGeometry(height=height, max_width=max_width, channels=channels).to_tensor(image)


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


def build_pipeline(steps: Sequence[Dict[str, Any]]) -> A.Compose:
    """An albumentations pipeline from YAML steps (``build_transform``)."""
    return A.Compose([build_transform(step) for step in steps])


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


def augment_line(augment: A.Compose, image: Image.Image, seed: int) -> Image.Image:
    """Apply ``augment`` with its randomness fixed by ``seed`` (the same sample gets the same distortion)."""
    augment.set_random_seed(seed)
    return Image.fromarray(augment(image=np.asarray(image.convert("RGB")))["image"])
