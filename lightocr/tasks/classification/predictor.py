"""The image-classification reader: images shaped by the model's saved input settings (its evaluation
transforms, size and normalization), the most probable class with its probability. Needs numpy, Pillow and
albumentations."""
from typing import Any, Dict, List, Sequence

import numpy as np
from PIL import Image

from ...data.image_inputs import ImageSamples, to_input
from ...data.transforms import build_pipeline
from ...predictor import Prediction, Predictor, as_array, softmax


class ClassPredictor(Predictor):
    """Input ``images`` ``(batch, channels, size, size)``; output ``logits``."""

    metadata_keys = ("classes", "input_settings")

    def __init__(self, engine, metadata: Dict[str, Any]):
        super().__init__(engine, metadata)
        self.classes = list(metadata["classes"])
        self.input_settings = dict(metadata["input_settings"])
        self.pipeline = build_pipeline(self.input_settings["eval_transforms"])

    def samples(self, source, on_error: str, max_pixels: int) -> ImageSamples:
        return ImageSamples(source, self.input_settings, on_error=on_error, require_label=False,
                            max_pixels=max_pixels)

    def prepare(self, image: Image.Image) -> np.ndarray:
        return to_input(image, self.input_settings, self.pipeline)

    def collate(self, prepared: List[np.ndarray]) -> Dict[str, np.ndarray]:
        return dict(images=np.stack(prepared))

    def decode(self, outputs: List[np.ndarray], inputs: Dict[str, Any]) -> List[Prediction]:
        return class_predictions(outputs[0], self.classes)


def class_predictions(logits: Any, classes: Sequence[str]) -> List[Prediction]:
    """The most probable class of each row of logits (numpy or torch), with its probability."""
    probabilities = softmax(as_array(logits).astype(np.float32))
    best = probabilities.argmax(-1)
    return [Prediction(classes[i], float(probabilities[row, i])) for row, i in enumerate(best.tolist())]
