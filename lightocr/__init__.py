"""lightocr: lightweight networks for text recognition and image classification with PyTorch Lightning.

``import lightocr`` is light: the zoo, export and the tasks are imported on first use, and the zoo registers
with timm whenever timm is imported (now, if it already is), so that ``timm.create_model("lo_...")`` works
after ``import lightocr``. ``lightocr.Reader`` reads an exported model with numpy, Pillow and ONNX Runtime only;
``lightocr.PageReader`` chains a text detector and a text recognizer to read pages.
"""
import importlib.abc
import importlib.util
import sys

from ._lazy import lazy_attributes

__version__ = "0.1.0"
__getattr__, __dir__ = lazy_attributes(__name__, {
    "convert_state_dict": ".models", "create_model": ".models", "create_reference": ".models",
    "list_models": ".models", "reference": ".models", "export_onnx": ".export", "Reader": ".predictor",
    "PageReader": ".page_reader",
})
__all__ = ["PageReader", "Reader", "convert_state_dict", "create_model", "create_reference", "export_onnx", "list_models",
           "reference", "__version__"]


class _RegisterZooWithTimm(importlib.abc.MetaPathFinder):
    """Import ``lightocr.models`` (which registers the zoo with timm) right after timm itself is imported."""

    def find_spec(self, name, path=None, target=None):
        if name != "timm":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("timm")
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenRegister(spec.loader)
        return spec


class _ThenRegister(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        importlib.import_module("lightocr.models")

    def __getattr__(self, name):  # the rest of the loader's interface (resources, source) is timm's own
        return getattr(self.loader, name)


if "timm" in sys.modules:
    importlib.import_module("lightocr.models")
elif not any(isinstance(finder, _RegisterZooWithTimm) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterZooWithTimm())
