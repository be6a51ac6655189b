"""Page backgrounds, shared by the synthetic pages (``lightocr.data.pages``) and the synthetic text lines that
may be drawn on them (``SyntheticTextSource(backgrounds=...)``): ``paper``, ``gradient``, ``texture``, ``noise``
(photo-like), ``ruled`` (notebook), ``speckle`` (recycled paper). Each is a float image around a light ``tone``."""
from typing import Callable, Dict, Sequence

import cv2
import numpy as np


def paper(rng: np.random.Generator, tone: np.ndarray, height: int, width: int) -> np.ndarray:
    """A light tone with fibre noise."""
    return tone + rng.normal(0, 6, (height, width, 1))


def gradient(rng: np.random.Generator, tone: np.ndarray, height: int, width: int) -> np.ndarray:
    """A ramp from the tone to another, across or down the page."""
    other = rng.integers(120, 256, 3).astype(np.float32)
    ramp = np.linspace(0, 1, width if rng.random() < 0.5 else height, dtype=np.float32)
    ramp = ramp[None, :, None] if ramp.size == width else ramp[:, None, None]
    return tone + (other - tone) * ramp + np.zeros((height, width, 1), np.float32)


def texture(rng: np.random.Generator, tone: np.ndarray, height: int, width: int) -> np.ndarray:
    """Blurred blobs of light and shade."""
    blobs = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), rng.uniform(4, 16))
    return tone + 40 * blobs[..., None] / (np.abs(blobs).max() + 1e-6)


def noise(rng: np.random.Generator, tone: np.ndarray, height: int, width: int) -> np.ndarray:
    """Photo-like colour noise."""
    return tone + rng.normal(0, 18, (height, width, 3))


def ruled(rng: np.random.Generator, tone: np.ndarray, height: int, width: int) -> np.ndarray:
    """Notebook paper: faint blue rules at a random pitch and a red margin line."""
    page = paper(rng, tone, height, width)
    pitch = int(rng.integers(14, 40))
    rules = slice(int(rng.integers(0, pitch)), None, pitch)
    page[rules] = page[rules] * 0.75 + np.array([90, 120, 200]) * 0.25
    margin = int(width * rng.uniform(0.05, 0.15))
    page[:, margin:margin + 2] = page[:, margin:margin + 2] * 0.5 + np.array([200, 60, 60]) * 0.5
    return page


def speckle(rng: np.random.Generator, tone: np.ndarray, height: int, width: int) -> np.ndarray:
    """Recycled paper: a tone flecked with dark and light specks of a few pixels."""
    page = tone + np.zeros((height, width, 1), np.float32)
    specks = cv2.dilate((rng.random((height, width)) < 0.004).astype(np.uint8), np.ones((2, 2), np.uint8))
    page[specks > 0] *= rng.uniform(0.3, 0.7)
    return page + rng.normal(0, 3, (height, width, 1))


BACKGROUNDS: Dict[str, Callable[[np.random.Generator, np.ndarray, int, int], np.ndarray]] = dict(
    paper=paper, gradient=gradient, texture=texture, noise=noise, ruled=ruled, speckle=speckle)


def background(rng: np.random.Generator, height: int, width: int, kinds: Sequence[str] = tuple(BACKGROUNDS),
               ) -> np.ndarray:
    """A page of one of the background ``kinds`` (``BACKGROUNDS``) in a random tone; a quarter of them darker,
    for text of low contrast."""
    tone = rng.integers(150, 256, 3).astype(np.float32)
    page = BACKGROUNDS[kinds[int(rng.integers(len(kinds)))]](rng, tone, height, width)
    if rng.random() < 0.25:
        page = page * rng.uniform(0.55, 0.8)
    return np.clip(page, 0, 255).astype(np.uint8)


def page_ink(under: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dark ink on a light background, light on a dark one; now and then a colour, kept at least 80 grey levels
    from the background (ITU-R 601 luma) so that it stays legible in grayscale."""
    luma = np.array([0.299, 0.587, 0.114])
    shade = float(under.reshape(-1, 3).mean(0) @ luma)
    colour = rng.integers(0, 70, 3) if shade > 110 else rng.integers(200, 256, 3)
    if rng.random() < 0.2:
        tint = rng.integers(0, 256, 3)
        colour = tint if abs(float(tint @ luma) - shade) >= 80 else colour
    return colour.astype(np.float32)
