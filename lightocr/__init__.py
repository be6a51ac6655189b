"""lightocr: lightweight networks for text recognition and image classification with PyTorch Lightning."""
from .export import export_onnx  # needs the onnx extra when called, not when imported
from .models import convert_state_dict, create_model, create_reference, list_models, reference

__version__ = "0.1.0"
__all__ = ["convert_state_dict", "create_model", "create_reference", "export_onnx", "list_models", "reference",
           "__version__"]
