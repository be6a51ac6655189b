"""Text detection: DB (Liao et al., "Real-time Scene Text Detection with Differentiable Binarization", AAAI 2020)
over an FPN on a backbone's feature pyramid. The network (``model``), its training targets (``targets``), loss
(``loss``), post-processing (``postprocess``) and metric (``metrics``); the task is ``task.DetectionTask``, its
reader ``predictor.DetectionPredictor``."""
from ..registry import TaskSpec, register_task

SPEC = register_task(TaskSpec(
    name="text-detection",
    task_class="lightocr.tasks.detection.task:DetectionTask",
    predictor="lightocr.tasks.detection.predictor:DetectionPredictor",
    marker="neck_channels",
    command="detect",
    summary="Find text on pages with a trained detector: one line per box, path<TAB>x1,y1,...<TAB>score",
    links=(("data.input_geometry", "model.init_args.input_geometry", "instantiate"),
           ("data.init_args.channels", "model.init_args.in_chans", "parse")),
    resume_keys=("backbone", "backbone_kwargs", "neck_channels", "in_chans", "input_geometry"),
))
