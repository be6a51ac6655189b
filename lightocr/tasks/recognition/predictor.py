"""The text-recognition reader: lines shaped by the model's ``LineGeometry``, padded at least to the encoder's
narrowest width, decoded by CTC (greedy, or prefix beam search with ``beam_width``). Needs numpy and Pillow."""
from typing import Any, Dict, List, Optional

import numpy as np
from PIL import Image

from ...data.geometry import LineGeometry
from ...ocr.charset import Charset
from ...ocr.decode import CTCDecoder
from ...predictor import Prediction, Predictor


class TextPredictor(Predictor):
    """Inputs ``images`` ``(batch, channels, height, width)`` and ``widths``; outputs ``logits`` and ``lengths``."""

    metadata_keys = ("charset", "case_sensitive", "geometry", "min_width")

    def __init__(self, engine, metadata: Dict[str, Any], beam_width: Optional[int] = None):
        super().__init__(engine, metadata)
        self.charset = Charset(metadata["charset"], case_sensitive=metadata["case_sensitive"])
        self.geometry = LineGeometry.from_dict(metadata["geometry"])
        self.min_width = int(metadata["min_width"])
        self.decoder = CTCDecoder(self.charset, beam_width or int(metadata.get("beam_width", 1)))

    @classmethod
    def add_options(cls, parser) -> List[str]:
        parser.add_argument("--beam-width", type=int, default=None, help="beam search width (default: the model's)")
        return ["beam_width"]

    def prepare(self, image: Image.Image) -> np.ndarray:
        return self.geometry.to_array(image)

    def collate(self, prepared: List[np.ndarray]) -> Dict[str, np.ndarray]:
        images, widths = self.geometry.pad(prepared)
        if images.shape[-1] < self.min_width:
            images = np.pad(images, ((0, 0), (0, 0), (0, 0), (0, self.min_width - images.shape[-1])))
        return dict(images=images, widths=widths)

    def decode(self, outputs: List[np.ndarray], inputs: Dict[str, Any]) -> List[Prediction]:
        logits, lengths = outputs
        return self.decoder(logits, lengths)
