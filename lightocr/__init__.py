"""lightocr: lightweight networks for text recognition and image classification with PyTorch Lightning."""
from .models import convert_state_dict, create_model, create_reference, list_models, reference

__version__ = "0.1.0"
__all__ = ["convert_state_dict", "create_model", "create_reference", "list_models", "reference", "__version__"]
