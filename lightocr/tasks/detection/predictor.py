"""The text-detection reader: pages shaped by the model's ``PageGeometry``, the DB probability map turned into
boxes (``DBPostProcess``) in the page's own pixels; one row per box: ``x1,y1,...`` and its score. A page whose
text comes out smaller than the detector was trained on, or none at all, is detected again, enlarged
(``DetectionPredictor``).
Needs numpy, OpenCV, Pillow and pyclipper."""
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ...data.page_inputs import STRIDE, PageGeometry
from ...predictor import ImageInput, Predictor, as_array, picture_name
from .postprocess import DBPostProcess

# The height of the text lines of the synthetic pages the detectors train on (``SyntheticPageSource``) once a
# page is scaled to the detector's 640-pixel input: 17 pixels at the median, a quarter of the lines under 14
# (measured on 200 rendered pages). A page of smaller print is read again enlarged, by at most MAX_UPSCALE.
TEXT_HEIGHT, MAX_UPSCALE = 16.0, 1.5


@dataclass(frozen=True)
class PageBoxes:
    """The text boxes found on a page: ``(points (n, 2), score)`` each, in the page's pixels."""
    boxes: List[Tuple[np.ndarray, float]]


class DetectionPredictor(Predictor):
    """Input ``images`` ``(batch, channels, height, width)``; outputs the ``prob`` and ``thresh`` maps.

    A page is read at the model's size (its longer side ``geometry.size``). When the median height of the lines
    found there is under ``text_height`` input pixels, small print that the detector finds less well than the
    text it was trained on, the page is read again enlarged to bring it to ``text_height``, by at most
    ``max_upscale``, and those boxes are kept (its effect on page CER: ``docs/benchmarks.md``). A page where
    nothing is found is read again ``max_upscale`` times enlarged: its print may be too small to see. ``text_height``
    0 or None: one reading at the model's size."""

    metadata_keys = ("geometry", "postprocess")

    def __init__(self, engine, metadata: Dict[str, Any], draw: Optional[str] = None,
                 text_height: Optional[float] = TEXT_HEIGHT, max_upscale: float = MAX_UPSCALE):
        super().__init__(engine, metadata)
        self.geometry = PageGeometry.from_dict(metadata["geometry"])
        self.postprocess = DBPostProcess(**metadata["postprocess"])
        self.draw = Path(draw) if draw else None
        self.text_height, self.max_upscale = text_height, max_upscale

    @classmethod
    def add_options(cls, parser) -> List[str]:
        parser.add_argument("--draw", default=None, metavar="DIR",
                            help="write each page to DIR with its boxes drawn (DIR/<image name>.png)")
        return ["draw", *cls.add_scale_options(parser)]

    @staticmethod
    def add_scale_options(parser) -> List[str]:
        """The ``--text-height`` option (``lightocr detect`` and ``lightocr read``)."""
        parser.add_argument("--text-height", type=float, default=None, metavar="PIXELS",
                            help=f"read a page again, enlarged up to {MAX_UPSCALE:g} times, when the median height "
                                 f"of its lines at the detector's input size is under PIXELS, or no line is "
                                 f"found (default {TEXT_HEIGHT:g}, the height of the training pages' text; 0: "
                                 f"never)")
        return ["text_height"]

    def results_with_images(self, images: Sequence[ImageInput], batch_size: int = 32, on_error: str = "skip",
                            max_pixels: Optional[int] = None
                            ) -> Iterator[List[Tuple[str, Optional[Image.Image], Any]]]:
        for triples in super().results_with_images(images, batch_size, on_error, max_pixels):
            yield [(key, image, found if image is None else self.enlarged(image, found))
                   for key, image, found in triples]

    def enlarged(self, image: Image.Image, found: "PageBoxes") -> "PageBoxes":
        """The boxes of ``image`` read again at the size that brings its lines to ``text_height``, or at
        ``max_upscale`` when none was found (print too small to see at the model's size); ``found``, its boxes at
        the model's size, when they are that tall already."""
        if not self.text_height:
            return found
        factor = self.max_upscale
        if found.boxes:
            scale = self.geometry.size / max(image.width, image.height)
            height = float(np.median([min(cv2.minAreaRect(points)[1]) for points, _ in found.boxes])) * scale
            factor = min(self.text_height / max(height, 1e-6), self.max_upscale)
        size = int(round(self.geometry.size * factor / STRIDE)) * STRIDE
        if size <= self.geometry.size:
            return found
        return self.predict_batch(self.collate([replace(self.geometry, size=size).to_array(image)]))[0]

    def finish(self, key: str, image: Image.Image, prediction: "PageBoxes") -> None:
        """With ``draw``: the page with its boxes in red, as ``<draw>/<image name>.png``."""
        if self.draw is None:
            return
        self.draw.mkdir(parents=True, exist_ok=True)
        page = image.convert("RGB")
        pen = ImageDraw.Draw(page)
        for points, _ in prediction.boxes:
            pen.polygon([tuple(p) for p in points.tolist()], outline=(230, 0, 0), width=max(1, page.width // 400))
        page.save(self.draw / picture_name(key))

    def prepare(self, image: Image.Image) -> Tuple[np.ndarray, Tuple[float, float]]:
        return self.geometry.to_array(image)

    def collate(self, prepared: List[Tuple[np.ndarray, Tuple[float, float]]]) -> Dict[str, np.ndarray]:
        return dict(images=self.geometry.pad([array for array, _ in prepared]),
                    scales=np.asarray([scale for _, scale in prepared], np.float32))

    def decode(self, outputs: List[np.ndarray], inputs: Dict[str, Any]) -> List[PageBoxes]:
        scales = as_array(inputs["scales"]).astype(np.float32)
        return [PageBoxes(self.postprocess(prob[0], scale=tuple(1 / scale)))
                for prob, scale in zip(np.asarray(outputs[0]), scales)]

    def rows(self, key: str, prediction: PageBoxes) -> List[Dict[str, Any]]:
        return [dict(key=key, text=",".join(f"{v:.0f}" for v in points.reshape(-1)), confidence=score)
                for points, score in prediction.boxes]
