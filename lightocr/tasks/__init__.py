"""LightningModules: the step logic of each task."""
from .base import BaseTask
from .recognition import TextRecognitionTask, read_lines

__all__ = ["BaseTask", "TextRecognitionTask", "read_lines"]
