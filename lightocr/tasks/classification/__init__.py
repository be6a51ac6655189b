"""Image classification with any zoo network or timm model. The task is ``task.ImageClassificationTask``, its
reader ``predictor.ClassPredictor``."""
from ..registry import TaskSpec, register_task

SPEC = register_task(TaskSpec(
    name="image-classification",
    task_class="lightocr.tasks.classification.task:ImageClassificationTask",
    predictor="lightocr.tasks.classification.predictor:ClassPredictor",
    marker="classes",
    command="classify",
    summary="Classify images with a trained model: one line per image, path<TAB>class<TAB>probability",
    links=(("data.class_names", "model.init_args.classes", "instantiate"),
           ("data.input_settings", "model.init_args.input_settings", "instantiate"),
           ("data.init_args.channels", "model.init_args.in_chans", "parse"),
           ("model.init_args.backbone", "data.init_args.backbone", "parse")),
    resume_keys=("backbone", "backbone_kwargs", "in_chans"),
))
