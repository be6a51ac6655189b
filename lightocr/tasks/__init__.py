"""LightningModules: the step logic of each task."""
from .base import BaseTask
from .recognition import TextRecognitionTask

__all__ = ["BaseTask", "TextRecognitionTask"]
