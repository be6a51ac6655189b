"""The model contract shared by every network of the zoo.

A zoo network is ``stem -> stages[0..L-1] -> final_conv -> head``, with ``L = num_levels`` (5 for most
families, SqueezeNet's 4):

* ``stages[i]`` ends at reduction ``2 ** (i + 1)`` (2, 4, ..., ``2 ** L``); its output is feature level ``i``,
  described by ``feature_info[i]`` (``num_chs``, ``reduction``, ``stride`` as ``(height, width)``, ``module``).
  The stride of level 0 belongs to the stem, the stride of level ``i > 0`` to the first layer of ``stages[i]``:
  a block, or a pooling layer where the stem spans two levels (:meth:`LightNet.init_pooled_stem`: ShuffleNet's max
  pool is ``stages[1]``). A stage may be empty (its level is then the output of the stage before).
* ``stage_strides`` sets those ``L`` strides, each an int or a ``(height, width)`` pair: ``(2, 1)`` in the late
  stages halves the height only, as text recognizers need. ``output_stride`` (8 up to ``2 ** L``) turns the
  strides that would pass it into dilation, as DeepLab does. A block keeps its type (and so its weights) when
  a setting removes its stride.
* ``forward_features`` returns the last map (after ``final_conv`` where a family has one). The head is either
  the usual ``global_pool -> conv_head -> dropout -> classifier`` (a 1x1 conv on the pooled vector is
  MobileNetV3's "last stage"), or, for a family built with ``conv_classifier=True`` (SqueezeNet),
  ``dropout -> 1x1 conv classifier + ReLU -> global_pool``, with no linear layer.

A family file sets ``num_levels`` if it is not 5, builds ``stem``, ``stages`` and ``feature_info`` and calls
:meth:`LightNet.init_head`; all the rest (timm compatibility, feature extraction, input checks, weight loading
errors) lives here.
"""

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Type, Union

import timm
import torch
from torch import nn
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.layers import SelectAdaptivePool2d
from timm.models import build_model_with_cfg, checkpoint_seq
from timm.models._features import feature_take_indices

from .layers import ConvBnAct, IntOrPair, LayerFactory, to_pair



@dataclass(frozen=True)
class StagePlan:
    """Where one feature level downsamples and dilates.

    ``stride`` is the stride of the level's first strided layer (1 on an axis turned into dilation);
    ``first_dilation`` is the dilation of that layer and ``dilation`` the one of the blocks after it;
    ``reduction`` is the cumulative ``(height, width)`` reduction at the level's output.
    """
    stride: Tuple[int, int]
    first_dilation: Tuple[int, int]
    dilation: Tuple[int, int]
    reduction: Tuple[int, int]

    def block(self, index: int) -> Tuple[Tuple[int, int], Tuple[int, int]]:
        """``(stride, dilation)`` of the level's ``index``-th layer; index 0 strides (on level 0, the stem)."""
        return (self.stride, self.first_dilation) if index == 0 else ((1, 1), self.dilation)


def plan_stages(stage_strides: Optional[Sequence[IntOrPair]] = None, output_stride: Optional[int] = None,
                num_levels: int = 5) -> List[StagePlan]:
    """Resolve per-level strides and ``output_stride`` into strides and dilations, axis by axis, for a family of
    ``num_levels`` levels (``None``: stride 2 everywhere, no dilation)."""
    stage_strides = (2,) * num_levels if stage_strides is None else stage_strides
    max_stride = 2 ** num_levels
    output_stride = max_stride if output_stride is None else output_stride
    valid = [2 ** k for k in range(3, num_levels + 1)]
    if output_stride not in valid:
        raise ValueError(f"output_stride must be {', '.join(map(str, valid[:-1]))} or {valid[-1]} for a network "
                         f"of {num_levels} levels (its deepest reduction is {max_stride}), got {output_stride!r}")
    if len(stage_strides) != num_levels:
        raise ValueError(
            f"stage_strides needs {num_levels} entries (one per level, stem first) for a network of {num_levels} "
            f"levels, got {len(stage_strides)}: {tuple(stage_strides)!r}")
    reduction, dilation = [1, 1], [1, 1]
    plans = []
    for level, value in enumerate(stage_strides):
        requested = to_pair(value)
        if any(s not in (1, 2) for s in requested):
            raise ValueError(f"stage_strides[{level}] must be 1, 2 or a pair of them, got {value!r}")
        first_dilation = tuple(dilation)
        stride = [1, 1]
        for axis in (0, 1):
            if reduction[axis] * requested[axis] > output_stride:
                dilation[axis] *= requested[axis]
            else:
                reduction[axis] *= requested[axis]
                stride[axis] = requested[axis]
        plans.append(StagePlan(tuple(stride), first_dilation, tuple(dilation), tuple(reduction)))
    return plans


# ``(entry, in_chs, stride, dilation) -> (layer, out_chs)``: one layer of a level (``LightNet.build_level_stages``)
MakeLayer = Callable[[Any, int, Tuple[int, int], Tuple[int, int]], Tuple[nn.Module, int]]


def repeated(rows: Sequence[Sequence[Any]]) -> List[Tuple[Any, ...]]:
    """Rows of an architecture table whose last value is a repeat count, one entry per layer (without it)."""
    return [tuple(row[:-1]) for row in rows for _ in range(row[-1])]


def feature_entry(num_chs: int, plan: StagePlan, level: int, module: Optional[str] = None) -> Dict[str, Any]:
    """One ``feature_info`` record in timm's format, plus the ``(height, width)`` stride; ``module`` names a tap
    inside a block (default: the level's stage)."""
    return dict(num_chs=num_chs, reduction=max(plan.reduction), stride=plan.reduction,
                module=module or f"stages.{level}")


class LightNet(nn.Module):
    """Base class of the zoo: classifier and multi-scale feature backbone with timm's model interface."""

    num_levels: int = 5  # feature levels (reductions 2 ... 2 ** num_levels); a family with fewer sets it
    # DeepLabv3+'s low-level feature (stride 4), for families that define one: its index in feature_info
    low_level_level: Optional[int] = None

    @classmethod
    def plan(cls, stage_strides: Optional[Sequence[IntOrPair]], output_stride: Optional[int]) -> List[StagePlan]:
        """:func:`plan_stages` for this family's number of levels."""
        return plan_stages(stage_strides, output_stride, cls.num_levels)

    def __init__(self, in_chans: int, num_classes: int, drop_rate: float):
        super().__init__()
        if in_chans < 1:
            raise ValueError(f"in_chans must be at least 1, got {in_chans}")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.grad_checkpointing = False
        self._input_error = (
            f"{type(self).__name__} expects input of shape (batch, {in_chans}, height, width) since it was built "
            f"with in_chans={in_chans}; pass in_chans=1 for grayscale or convert the images")
        self.feature_info: List[Dict[str, Any]] = []
        # levels whose feature is taken inside the first block of the next stage, before its strided layer (the
        # richest map at that resolution, as DeepLab taps Xception); that block offers forward_with_tap(x) ->
        # (output, tap) and prune_to_tap()
        self.tapped_levels: Tuple[int, ...] = ()

    def init_pooled_stem(self, in_chans: int, stem_chs: int, plans: Sequence[StagePlan]) -> List[nn.Module]:
        """A stem that spans two levels (ShuffleNet's): a 3x3 conv-BN-ReLU at level 0's stride, then a 3x3 max pool
        that opens level 1 at its stride. Sets ``stem`` and the first two ``feature_info`` records and returns the
        first two stages (an empty one and the pool), for the family to append its own."""
        stride, dilation = plans[0].block(0)
        self.stem = ConvBnAct(in_chans, stem_chs, 3, stride, dilation)
        self.feature_info = [feature_entry(stem_chs, plans[0], 0), feature_entry(stem_chs, plans[1], 1)]
        return [nn.Sequential(), nn.Sequential(nn.MaxPool2d(3, plans[1].stride, padding=1))]

    def build_level_stages(self, plans: Sequence[StagePlan], levels: Sequence[Sequence[Any]], make_layer: MakeLayer,
                           in_chs: int, first_level: int = 0, record_features: bool = True,
                           ) -> Tuple[List[nn.Module], int]:
        """The stages of levels ``first_level``, ``first_level + 1``, ...: level ``i``'s stage holds one layer
        per entry of ``levels[i - first_level]``, made by ``make_layer(entry, in_chs, stride, dilation) -> (layer,
        out_chs)``. The level's first layer takes its stride and first dilation, the others its dilation; on level
        0 the stem took the stride, so every layer there takes the dilation. Each level's output is recorded in
        ``feature_info`` (unless ``record_features=False``: a family that taps its features elsewhere). Returns
        the stages and the channels of the last one."""
        stages = []
        for level, (entries, plan) in enumerate(zip(levels, plans[first_level:]), first_level):
            layers = []
            for index, entry in enumerate(entries):
                stride, dilation = plan.block(index + (level == 0))
                layer, in_chs = make_layer(entry, in_chs, stride, dilation)
                layers.append(layer)
            stages.append(nn.Sequential(*layers))
            if record_features:
                self.feature_info.append(feature_entry(in_chs, plan, level))
        return stages, in_chs

    def init_head(
            self,
            num_features: int,
            global_pool: str = "avg",
            final_conv: Optional[nn.Module] = None,
            head_hidden_size: Optional[int] = None,
            head_act_layer: Optional[LayerFactory] = None,
            head_norm_layer: Optional[LayerFactory] = None,
            classifier_bias: bool = True,
            conv_classifier: bool = False,
    ) -> None:
        """Register what follows the stages, in forward order, and initialize all weights.

        ``final_conv`` runs on the last map before pooling (MobileNetV2's 1x1 conv to 1280); ``head_hidden_size``
        adds a 1x1 conv with bias after pooling (MobileNetV3's 1280-wide layer), followed by ``head_norm_layer``
        where given (ReXNet-lite's BatchNorm) and ``head_act_layer``. ``classifier_bias=False`` gives a
        linear classifier without bias (ShuffleNetV1). ``conv_classifier`` classifies each position with a 1x1
        conv and ReLU, then pools (SqueezeNet, Sec. 3.3): ``global_pool=''`` then gives a class map.
        """
        if conv_classifier and (head_hidden_size or global_pool == "catavgmax"):
            raise ValueError("a conv classifier takes the feature map itself: no head_hidden_size, no catavgmax")
        self.classifier_bias = classifier_bias
        self.conv_classifier = conv_classifier
        self.final_conv = final_conv if final_conv is not None else nn.Identity()
        self.num_features = num_features
        self.head_hidden_size = head_hidden_size or num_features
        self.global_pool = SelectAdaptivePool2d(pool_type=global_pool)
        pooled = num_features * self.global_pool.feat_mult()
        if head_hidden_size:
            self.conv_head = nn.Conv2d(pooled, head_hidden_size, 1, bias=True)
            self.head_norm = head_norm_layer(head_hidden_size) if head_norm_layer is not None else nn.Identity()
            self.head_act = head_act_layer(inplace=True) if head_act_layer is not None else nn.Identity()
        else:
            self.conv_head = nn.Identity()
            self.head_norm = nn.Identity()
            self.head_act = nn.Identity()
            self.head_hidden_size = pooled
        self.flatten = nn.Flatten(1) if global_pool else nn.Identity()
        self.head_drop = nn.Dropout(self.drop_rate)  # a module, so that traced graphs follow train()/eval()
        self.classifier = self._make_classifier(self.num_classes, global_pool)
        self.init_weights()

    def _make_classifier(self, num_classes: int, global_pool: str) -> nn.Module:
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        if not num_classes:
            return nn.Identity()
        if self.conv_classifier:
            return ConvClassifier(self.num_features, num_classes)
        if not global_pool:
            raise ValueError("global_pool='' (no pooling) only works with num_classes=0")
        return nn.Linear(self.head_hidden_size, num_classes, bias=self.classifier_bias)

    def init_weights(self) -> None:
        """torchvision's initialization for its MobileNets, used for the whole zoo."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    # timm's model interface -------------------------------------------------------------------------
    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int, global_pool: Optional[str] = None) -> None:
        """Replace the classifier (``num_classes=0`` removes it); keeps the pooling unless ``global_pool`` is given."""
        if global_pool is not None:
            pool = SelectAdaptivePool2d(pool_type=global_pool)
            if not isinstance(self.conv_head, nn.Identity) and pool.feat_mult() != self.global_pool.feat_mult():
                raise ValueError(f"global_pool={global_pool!r} changes the width that conv_head expects")
            self.global_pool = pool
            self.flatten = nn.Flatten(1) if global_pool else nn.Identity()
            if isinstance(self.conv_head, nn.Identity):
                self.head_hidden_size = self.num_features * pool.feat_mult()
        self.num_classes = num_classes
        self.classifier = self._make_classifier(num_classes, self.global_pool.pool_type)

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> Dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^stages\.(\d+)" if coarse else r"^stages\.(\d+)\.(\d+)")

    def _check_input(self, x: torch.Tensor) -> None:
        # torch._assert keeps the check in TorchScript and torch.fx graphs
        torch._assert(x.dim() == 4, self._input_error)
        torch._assert(x.shape[1] == self.in_chans, self._input_error)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        x = self.stem(x)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            x = checkpoint_seq(self.stages, x)
        else:
            x = self.stages(x)
        return self.final_conv(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.conv_classifier:  # pre-logits: the pooled map that the classifier would see
            if not pre_logits:
                x = self.classifier(self.head_drop(x))
            return self.flatten(self.global_pool(x))
        x = self.head_act(self.head_norm(self.conv_head(self.global_pool(x))))
        x = self.flatten(x)
        if pre_logits:
            return x
        return self.classifier(self.head_drop(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
            self,
            x: torch.Tensor,
            indices: Optional[Union[int, List[int]]] = None,
            norm: bool = False,
            stop_early: bool = False,
            output_fmt: str = "NCHW",
            intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """timm's intermediate-feature interface: the outputs of the levels in ``indices`` (an int takes the last
        n, None all of them, negative indices count from the end), with ``forward_features``' output unless
        ``intermediates_only``. ``stop_early`` skips the levels after the last one asked for. The zoo has no
        final norm, so ``norm`` changes nothing."""
        torch._assert(output_fmt == "NCHW", "output_fmt must be 'NCHW'")
        torch._assert(not stop_early or intermediates_only, "stop_early needs intermediates_only=True")
        take_indices, max_index = feature_take_indices(len(self.feature_info), indices)
        self._check_input(x)
        x = self.stem(x)
        intermediates: List[torch.Tensor] = []
        last_stage = max_index + 1 if max_index in self.tapped_levels else max_index
        stages = self.stages if not stop_early else self.stages[:last_stage + 1]
        for index, stage in enumerate(stages):
            if index - 1 in self.tapped_levels:  # the previous level's feature lies inside this stage's first block
                x, tap = stage[0].forward_with_tap(x)
                if index - 1 in take_indices:
                    intermediates.append(tap)
                stage = stage[1:]
            x = checkpoint_seq(stage, x) if self.grad_checkpointing and len(stage) else stage(x)
            if index in take_indices and index not in self.tapped_levels:
                intermediates.append(x)
        if intermediates_only:
            return intermediates
        return self.final_conv(x), intermediates

    def prune_intermediate_layers(
            self, indices: Union[int, List[int]] = 1, prune_norm: bool = False, prune_head: bool = True) -> List[int]:
        """Drop the levels after the last of ``indices`` (and with ``prune_head`` the head), as timm's feature
        wrappers do; returns the absolute level indices. A tapped last level keeps its block up to the tap."""
        take_indices, max_index = feature_take_indices(len(self.feature_info), indices)
        if max_index in self.tapped_levels:
            self.stages = self.stages[:max_index + 2]
            self.stages[-1] = nn.Sequential(self.stages[-1][0])
            self.stages[-1][0].prune_to_tap()
        elif max_index < len(self.stages) - 1:
            self.stages = self.stages[:max_index + 1]
        if max_index < len(self.feature_info) - 1 or prune_head:
            self.final_conv = nn.Identity()
            self.num_features = self.feature_info[max_index]["num_chs"]
        if prune_head:
            self.conv_head, self.head_norm, self.head_act = nn.Identity(), nn.Identity(), nn.Identity()
            self.reset_classifier(0, "")
        return take_indices

    @torch.jit.ignore
    def low_level_index(self) -> int:
        """The ``feature_info`` index of DeepLabv3+'s low-level (stride-4) feature; an error for families without
        one, naming those that have one."""
        if self.low_level_level is None:
            with_one = sorted({cls.__name__ for cls in _subclasses(LightNet) if cls.low_level_level is not None})
            raise ValueError(f"{type(self).__name__} has no low-level feature for a DeepLabv3+ decoder; families "
                             f"with one: {', '.join(with_one)}")
        return self.low_level_level

    def extract_features(self, x: torch.Tensor) -> List[torch.Tensor]:
        """One map per level (reductions 2, 4, ..., ``2 ** num_levels`` by default), as listed in
        ``feature_info``."""
        return self.forward_intermediates(x, intermediates_only=True)

    # weights ----------------------------------------------------------------------------------------
    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """``nn.Module.load_state_dict`` with one error that lists missing, unexpected and mis-shaped keys."""
        if strict:
            describe_mismatch(self, state_dict)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def _subclasses(cls: type) -> List[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


def describe_mismatch(model: nn.Module, state_dict: Mapping[str, Any]) -> None:
    """Raise a ``RuntimeError`` naming every key that does not fit ``model``; return quietly when all fit."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
              for k, v in state_dict.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if not (missing or unexpected or shapes):
        return

    def listing(title: str, items: List[str]) -> str:
        shown = ", ".join(items[:8]) + (f", ... ({len(items) - 8} more)" if len(items) > 8 else "")
        return f"\n  {len(items)} {title}: {shown}" if items else ""

    raise RuntimeError(
        f"state dict does not fit {type(model).__name__}:"
        + listing("missing keys", missing) + listing("unexpected keys", unexpected)
        + listing("shape mismatches", shapes)
        + "\nA torchvision or timm checkpoint needs lightocr.convert_state_dict(name, state_dict) first.")


def convert_by_order(reference: Mapping[str, torch.Tensor], target: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """Map a reference state dict onto ``target``'s keys, entry by entry in registration order.

    Valid because a zoo network registers the same layers in the same order as its reference. Each pair must
    agree in kind (weight, bias, running_mean, ...) and in shape; a Linear weight may become a 1x1 conv weight.
    The error names the first pair that disagrees.
    """
    ref_items, tgt_items = list(reference.items()), list(target.items())
    converted = {}
    for (ref_key, ref_value), (key, value) in zip(ref_items, tgt_items):
        if ref_key.rsplit(".", 1)[-1] != key.rsplit(".", 1)[-1]:
            raise ValueError(f"layer order differs at {key!r}: the weights give {ref_key!r}")
        if tuple(ref_value.shape) != tuple(value.shape):
            if ref_value.numel() != value.numel() or tuple(value.shape[ref_value.dim():]) != (1,) * (
                    value.dim() - ref_value.dim()):
                raise ValueError(f"shape differs at {key!r} {tuple(value.shape)}: the weights give {ref_key!r} "
                                 f"{tuple(ref_value.shape)}")
            ref_value = ref_value.reshape(value.shape)
        converted[key] = ref_value
    if len(ref_items) != len(tgt_items):
        extra = (f"the weights go on with {ref_items[len(tgt_items)][0]!r}" if len(ref_items) > len(tgt_items)
                 else f"the weights end before {tgt_items[len(ref_items)][0]!r}")
        raise ValueError(f"the weights have {len(ref_items)} tensors, the model {len(tgt_items)}: {extra}")
    return converted


def _template(variant: str, num_classes: int, in_chans: int) -> Dict[str, torch.Tensor]:
    """The state dict layout of ``variant`` (shapes only, nothing allocated)."""
    with torch.device("meta"):
        return timm.create_model(variant, num_classes=num_classes, in_chans=in_chans).state_dict()


def in_reference_order(variant: str, state_dict: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    """A reference file's tensors in its implementation's module order, which the conversion by order needs: a
    ``.safetensors`` file keeps its keys sorted by name. Unchanged when the keys are not the reference's."""
    from ._registry import create_reference, reference  # the registry builds on this module

    if reference(variant) is None:
        return state_dict
    with torch.device("meta"):
        order = {key: index for index, key in enumerate(create_reference(variant).state_dict())}
    if not set(state_dict) <= set(order):
        return state_dict
    return {key: state_dict[key] for key in sorted(state_dict, key=order.__getitem__)}


def convert_to_variant(variant: str, state_dict: Mapping[str, torch.Tensor], source: str = "this state dict",
                       ) -> Dict[str, torch.Tensor]:
    """Convert a reference (torchvision or timm) state dict to ``variant``'s keys, keeping the file's own layout:
    its classifier width (or none) and its input channels."""
    state_dict = in_reference_order(variant, state_dict)
    weights = [v for k, v in state_dict.items() if k.endswith("weight")]
    if not weights:
        raise ValueError(f"{source} holds no weights")
    in_chans = int(next((w.shape[1] for w in weights if w.dim() == 4), 3))
    errors = []
    for num_classes in dict.fromkeys((int(weights[-1].shape[0]), 0)):
        try:
            return convert_by_order(state_dict, _template(variant, num_classes, in_chans))
        except ValueError as error:
            errors.append(f"as {num_classes} classes: {error}")
    raise ValueError(f"{source} does not fit {variant}; " + "; ".join(errors))


def checkpoint_filter_fn(state_dict: Dict[str, torch.Tensor], model: nn.Module) -> Dict[str, torch.Tensor]:
    """timm ``pretrained_filter_fn``: unwrap common containers and bring the file into the zoo's layout, as the
    file is (its own classifier and input channels), so that timm then drops the classifier for another
    ``num_classes`` and adapts the stem for another ``in_chans``. Names the file and the first mismatched layer."""
    for wrapper in ("state_dict", "model", "state_dict_ema"):
        if wrapper in state_dict and isinstance(state_dict[wrapper], Mapping):
            state_dict = state_dict[wrapper]
    variant = model.pretrained_cfg["architecture"]
    source = model.pretrained_cfg.get("file") or "the pretrained weights"
    own = _template(variant, 1, 3)
    if not set(state_dict) <= set(own):
        return convert_to_variant(variant, state_dict, source)
    adapted = {model.pretrained_cfg["first_conv"] + ".weight", *(f"{model.pretrained_cfg['classifier']}.{p}"
                                                                 for p in ("weight", "bias"))}
    for key, expected in own.items():  # in the model's layer order
        if key in state_dict and key not in adapted and tuple(state_dict[key].shape) != tuple(expected.shape):
            raise ValueError(f"{source} does not fit {variant}: first mismatch at {key!r}, file "
                             f"{tuple(state_dict[key].shape)} vs model {tuple(expected.shape)}")
    return state_dict


def zoo_cfg(paper_ids: str, **overrides: Any) -> Dict[str, Any]:
    """timm ``pretrained_cfg`` of a zoo variant: ImageNet preprocessing at 224x224 unless overridden, and no URL
    (nothing is downloaded; weights load from a file through ``pretrained_cfg_overlay=dict(file=...)``)."""
    return dict(dict(
        url="", num_classes=1000, input_size=(3, 224, 224), pool_size=(7, 7), crop_pct=0.875,
        interpolation="bilinear", mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD,
        first_conv="stem.conv", classifier="classifier", paper_ids=paper_ids), **overrides)


class ConvClassifier(nn.Module):
    """A 1x1 conv with bias and ReLU that classifies every position (SqueezeNet's ``conv10``, Sec. 3.3)."""

    def __init__(self, in_chs: int, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(in_chs, num_classes, 1)
        self.act = nn.ReLU(inplace=True)
        self.out_features = num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


def build_lightnet(model_cls: Type[LightNet], variant: str, pretrained: bool = False, **kwargs) -> nn.Module:
    """Build through timm, so that ``features_only``, ``out_indices`` (every level of the family unless given)
    and pretrained files work as for timm models. Feature models wrap :meth:`LightNet.forward_intermediates`
    (timm's ``feature_cls="getter"``), which also reaches features tapped inside blocks, and drop the layers
    after the last level asked for."""
    return build_model_with_cfg(
        model_cls, variant, pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(feature_cls="getter", out_indices=tuple(range(model_cls.num_levels))),
        **kwargs)

