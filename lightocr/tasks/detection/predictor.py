"""The text-detection reader: pages shaped by the model's ``PageGeometry``, the DB probability map turned into
boxes (``DBPostProcess``) in the page's own pixels; one row per box: ``x1,y1,...`` and its score. Needs numpy,
OpenCV, Pillow and pyclipper."""
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, ImageDraw

from ...data.page_inputs import PageGeometry
from ...predictor import Predictor, as_array, picture_name
from .postprocess import DBPostProcess


@dataclass(frozen=True)
class PageBoxes:
    """The text boxes found on a page: ``(points (n, 2), score)`` each, in the page's pixels."""
    boxes: List[Tuple[np.ndarray, float]]


class DetectionPredictor(Predictor):
    """Input ``images`` ``(batch, channels, height, width)``; outputs the ``prob`` and ``thresh`` maps."""

    metadata_keys = ("geometry", "postprocess")

    def __init__(self, engine, metadata: Dict[str, Any], draw: Optional[str] = None):
        super().__init__(engine, metadata)
        self.geometry = PageGeometry.from_dict(metadata["geometry"])
        self.postprocess = DBPostProcess(**metadata["postprocess"])
        self.draw = Path(draw) if draw else None

    @classmethod
    def add_options(cls, parser) -> List[str]:
        parser.add_argument("--draw", default=None, metavar="DIR",
                            help="write each page to DIR with its boxes drawn (DIR/<image name>.png)")
        return ["draw"]

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
