"""The zoo. Every module here that does not start with ``_`` is a network family and is imported (and so
registered with timm) on ``import lightocr``: adding a family means adding one file."""
import importlib
import pkgutil

from ._base import LightNet, plan_stages
from ._registry import (check_model_name, convert_state_dict, create_backbone, create_model, create_reference,
                        feature_levels, list_models, reference, register_lightocr_model)

FAMILIES = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_") and m.name != "layers")
for _family in FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")

__all__ = ["LightNet", "FAMILIES", "check_model_name", "convert_state_dict", "create_backbone", "create_model", "create_reference",
           "feature_levels", "list_models", "plan_stages", "reference", "register_lightocr_model"]
