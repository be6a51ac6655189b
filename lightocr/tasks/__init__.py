"""The tasks: one package each (its LightningModule, its predictor, its ``TaskSpec``), registered in
``lightocr.tasks.registry``. The LightningModules are imported on first use (``lightocr._lazy``), so that the
registry and the predictors need no Lightning."""
from .._lazy import lazy_attributes
from .registry import TaskSpec, find_task, load_task, register_task

__getattr__, __dir__ = lazy_attributes(__name__, {
    "BaseTask": ".base", "TextRecognitionTask": ".recognition.task",
    "ImageClassificationTask": ".classification.task", "DetectionTask": ".detection.task",
})
__all__ = ["BaseTask", "ImageClassificationTask", "TaskSpec", "TextRecognitionTask", "find_task", "load_task",
           "register_task"]
