"""Package attributes imported on first use (PEP 562), so that ``import lightocr`` and a reader of an exported
model load neither torch, timm nor Lightning until something asks for them."""
import importlib
from typing import Callable, Dict, List, Tuple


def lazy_attributes(package: str, where: Dict[str, str]) -> Tuple[Callable[[str], object], Callable[[], List[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: each name of ``where`` comes from the module it names
    (relative to the package) the first time it is asked for."""

    def __getattr__(name: str) -> object:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name], package), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__() -> List[str]:
        return sorted(set(where) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__
