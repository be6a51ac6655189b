"""Registration of zoo variants with timm, and the public model API.

Naming scheme: ``lo_<family>[_<size>]_<width x 100>``, e.g. ``lo_mobilenetv2_140`` or
``lo_mobilenetv3_small_075``. The ``lo_`` prefix keeps every name out of timm's own namespace, so that
``timm.create_model("mobilenetv2_100")`` stays timm's model and ``"lo_mobilenetv2_100"`` is ours.
"""
import difflib
import fnmatch
import sys
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Type

import torch
from torch import nn
import timm
from timm.models import generate_default_cfgs, register_model

from ..errors import ConfigError
from ._base import LightNet, build_lightnet, convert_to_variant, zoo_cfg

PREFIX = "lo_"
_REFERENCES: Dict[str, Optional[str]] = {}


def register_lightocr_model(reference: Optional[str] = None) -> Callable[[Callable], Callable]:
    """Register a factory with timm and record its reference implementation.

    ``reference`` is ``"torchvision:<function>"``, ``"timm:<model name>"`` or None where nothing installable
    has the same architecture. The factory's module must define timm's ``default_cfgs`` first.
    """

    def decorate(factory: Callable) -> Callable:
        name = factory.__name__
        if not name.startswith(PREFIX):
            raise ValueError(f"zoo model names start with {PREFIX!r}: {name!r}")
        if reference is not None and reference.split(":", 1)[0] not in ("torchvision", "timm"):
            raise ValueError(f"reference must start with 'torchvision:' or 'timm:', got {reference!r}")
        _REFERENCES[name] = reference
        return register_model(factory)

    return decorate


@dataclass(frozen=True)
class Variant:
    """One row of a family's variant table: the constructor's arguments, the reference implementation (see
    :func:`register_lightocr_model`), a one-line description and ``pretrained_cfg`` overrides."""
    kwargs: Dict[str, Any]
    doc: str
    reference: Optional[str] = None
    cfg: Dict[str, Any] = field(default_factory=dict)


def register_variants(module_name: str, model_cls: Type[LightNet], paper_ids: str,
                      variants: Mapping[str, Variant]) -> None:
    """Register a family's variant table with timm: its ``default_cfgs`` and one factory per row, defined in the
    family's module under the variant's name (``timm.create_model(name, **kwargs)`` calls it)."""
    module = sys.modules[module_name]
    module.default_cfgs = dict(getattr(module, "default_cfgs", {}), **generate_default_cfgs(
        {name: zoo_cfg(paper_ids, **v.cfg) for name, v in variants.items()}))
    for name, variant in variants.items():
        factory = _variant_factory(model_cls, name, variant)
        factory.__module__ = module_name
        setattr(module, name, register_lightocr_model(variant.reference)(factory))


def _variant_factory(model_cls: Type[LightNet], name: str, variant: Variant) -> Callable[..., LightNet]:
    def factory(pretrained: bool = False, **kwargs) -> LightNet:
        return build_lightnet(model_cls, name, pretrained, **{**variant.kwargs, **kwargs})
    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = variant.doc
    return factory


def list_models(pattern: str = "*") -> List[str]:
    """Every registered zoo variant (optionally filtered by a shell-style pattern), sorted."""
    return sorted(name for name in _REFERENCES if fnmatch.fnmatch(name, pattern))


def check_model_name(name: str) -> None:
    """Raise ``ValueError`` for a name that is not a zoo variant, listing the closest valid names."""
    if name in _REFERENCES:
        return
    close = difflib.get_close_matches(name, list(_REFERENCES), n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; lightocr.list_models() lists all {len(_REFERENCES)}"
    raise ValueError(f"unknown lightocr model {name!r}{hint}")


def feature_levels(name: str) -> int:
    """The number of feature levels of a zoo variant (5, or 4 for SqueezeNet), read off a shapes-only instance."""
    check_model_name(name)
    with torch.device("meta"):
        return len(timm.create_model(name).feature_info)


def create_model(name: str, **kwargs) -> nn.Module:
    """``timm.create_model`` for a zoo variant, with a helpful error for an unknown name."""
    check_model_name(name)
    return timm.create_model(name, **kwargs)


def create_backbone(name: str, weights: Optional[str] = None, **kwargs) -> nn.Module:
    """``timm.create_model(name, **kwargs)`` (a zoo or timm network), its weights read from the torchvision, timm
    or lightocr file ``weights`` (``.pth``, ``.safetensors``) when given: converted and adapted as timm's
    ``pretrained_cfg_overlay=dict(file=...)`` does (the file's classifier dropped for another class count, its
    stem summed or repeated for other input channels). A missing file, or one of another architecture, raises
    ``ConfigError`` naming the file and the first layer that does not fit."""
    if weights is None:
        return timm.create_model(name, pretrained=False, **kwargs)
    if not Path(weights).is_file():
        raise ConfigError(f"backbone_weights: no such file {weights}")
    try:
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay=dict(file=str(weights)), **kwargs)
    except (RuntimeError, ValueError, KeyError) as error:  # a zoo network's conversion names the first misfit
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise ConfigError(f"backbone_weights: {lines[0]}") from None
    if not name.startswith(PREFIX):  # timm loads a features_only model leniently: every layer must be in the file
        stored = timm.models.load_state_dict(str(weights))
        for key in model.state_dict():
            plain = key.removeprefix("model.")
            if key not in stored and plain not in stored and not key.endswith("num_batches_tracked"):
                raise ConfigError(f"backbone_weights {weights} do not fit {name}: the file has no {plain!r}")
    return model


def reference(name: str) -> Optional[str]:
    """The reference implementation of a variant: ``"torchvision:<fn>"``, ``"timm:<name>"`` or None."""
    check_model_name(name)
    return _REFERENCES[name]


def create_reference(name: str, num_classes: int = 1000) -> nn.Module:
    """Instantiate the reference model of ``name`` with random weights (nothing is downloaded)."""
    ref = reference(name)
    if ref is None:
        raise ValueError(f"{name} has no installable reference implementation")
    source, ref_name = ref.split(":", 1)
    if source == "timm":
        return timm.create_model(ref_name, pretrained=False, num_classes=num_classes)
    import torchvision
    return getattr(torchvision.models, ref_name)(weights=None, num_classes=num_classes)


def convert_state_dict(name: str, reference_state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Turn a reference (torchvision or timm) state dict into one that ``name`` loads with ``strict=True``.

    The classifier width is taken from the reference; a reference without classifier maps to ``num_classes=0``.
    """
    check_model_name(name)
    return convert_to_variant(name, reference_state_dict)
