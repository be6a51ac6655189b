"""LightningModules: the step logic of each task."""
from .base import BaseTask, predict_source
from .classification import ImageClassificationTask
from .recognition import TextRecognitionTask

__all__ = ["BaseTask", "ImageClassificationTask", "TextRecognitionTask", "predict_source"]
