"""Text recognition: CRNN + CTC (Shi et al. 2015). The network's parts are ``lightocr.ocr``; the task is
``task.TextRecognitionTask``, its reader ``predictor.TextPredictor``."""
from ..registry import TaskSpec, register_task

SPEC = register_task(TaskSpec(
    name="text-recognition",
    task_class="lightocr.tasks.recognition.task:TextRecognitionTask",
    predictor="lightocr.tasks.recognition.predictor:TextPredictor",
    marker="charset",
    command="read",
    summary="Read text lines with a trained model: one line per image, path<TAB>text<TAB>confidence",
    links=(("data.charset_symbols", "model.init_args.charset", "instantiate"),
           ("data.case_sensitive", "model.init_args.case_sensitive", "instantiate"),
           ("data.input_geometry", "model.init_args.input_geometry", "instantiate"),
           ("data.init_args.channels", "model.init_args.in_chans", "parse")),
    resume_keys=("backbone", "backbone_kwargs", "level", "stage_strides", "neck", "neck_kwargs", "in_chans",
                 "charset", "case_sensitive", "input_geometry"),
))
