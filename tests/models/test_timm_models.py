"""timm's own model tests (``tests/test_models.py`` of pytorch-image-models: forward, backward, default cfgs,
TorchScript, features_only, forward_intermediates, fx forward/backward and fx + TorchScript), run over every zoo
variant with the same input sizes and the same checks as timm runs them over its own models."""
import math

import pytest
import timm
import torch
from timm.models import FeatureInfo, get_notrace_functions, get_notrace_modules
from torchvision.models.feature_extraction import NodePathTracer, create_feature_extractor, get_graph_node_names

import lightocr

ALL = lightocr.list_models()
TARGET_FWD, TARGET_BWD, TARGET_JIT, TARGET_FEAT, TARGET_FX = 384, 128, 128, 96, 128


def input_size(model_or_name, target):
    cfg = (model_or_name.pretrained_cfg if isinstance(model_or_name, torch.nn.Module)
           else timm.get_pretrained_cfg(model_or_name).to_dict())
    return tuple(min(x, target) for x in cfg["input_size"])


def fx_model(model, train=False):
    """The model as timm's tests trace it: torchvision's feature extractor on the graph's output node(s)."""
    tracer_kwargs = dict(leaf_modules=get_notrace_modules(), autowrap_functions=get_notrace_functions(),
                         param_shapes_constant=True)
    train_nodes, eval_nodes = get_graph_node_names(model, tracer_kwargs=tracer_kwargs)
    train_return = [train_nodes[-1]]
    if train:
        graph = NodePathTracer(**tracer_kwargs).trace(model)
        nodes = list(reversed(graph.nodes))
        names = [n.name for n in nodes]
        train_return = [train_nodes[-names.index(n.name)] for n in nodes[0]._input_nodes.keys()]
    return create_feature_extractor(model, train_return_nodes=train_return, eval_return_nodes=[eval_nodes[-1]],
                                    tracer_kwargs=tracer_kwargs)


@pytest.mark.parametrize("name", ALL)
def test_model_forward(name):
    model = timm.create_model(name).eval()
    x = torch.randn(1, *input_size(model, TARGET_FWD))
    with torch.no_grad():
        out = model(x)
        assert out.shape[0] == 1 and not torch.isnan(out).any()
        model.set_grad_checkpointing()
        torch.testing.assert_close(model(x), out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_model_backward(name):
    model = timm.create_model(name, num_classes=42).train()
    out = model(torch.randn(2, *input_size(name, TARGET_BWD)))
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert out.shape[-1] == 42 and not torch.isnan(out).any()


@pytest.mark.parametrize("name", ALL)
def test_model_default_cfgs(name):
    model = timm.create_model(name).eval()
    assert model.num_classes >= 0 and model.num_features > 0 and model.head_hidden_size > 0
    cfg = model.pretrained_cfg
    x = torch.randn(1, *cfg["input_size"])
    with torch.no_grad():
        features = model.forward_features(x)
        pre_logits = model.forward_head(features, pre_logits=True)
        assert tuple(features.shape[-2:]) == tuple(cfg["pool_size"]) and features.shape[1] == model.num_features
        assert pre_logits.shape[1] == model.head_hidden_size
        model.reset_classifier(0)
        assert model.num_classes == 0
        assert model(x).shape == pre_logits.shape
        unpooled = timm.create_model(name, num_classes=0, global_pool="").eval()(x)
        assert unpooled.dim() == 4 and tuple(unpooled.shape[-2:]) == tuple(cfg["pool_size"])
    state = timm.create_model(name).state_dict()
    assert cfg["classifier"] + ".weight" in state and cfg["first_conv"] + ".weight" in state


@pytest.mark.parametrize("name", ALL)
def test_model_forward_torchscript(name):
    with timm.layers.set_scriptable(True):
        model = timm.create_model(name).eval()
    out = torch.jit.script(model)(torch.randn(1, *input_size(name, TARGET_JIT)))
    assert out.shape[0] == 1 and not torch.isnan(out).any()


@pytest.mark.parametrize("feature_cls", [None, "getter"])
@pytest.mark.parametrize("name", ALL)
def test_model_forward_features(name, feature_cls):
    kwargs = dict(feature_cls=feature_cls) if feature_cls else {}
    model = timm.create_model(name, features_only=True, **kwargs).eval()
    channels, reductions = model.feature_info.channels(), model.feature_info.reduction()
    assert len(channels) >= 3
    size = input_size(model, TARGET_FEAT)
    outputs = model(torch.randn(1, *size))
    assert len(outputs) == len(channels)
    for c, r, o in zip(channels, reductions, outputs):
        assert o.shape[1] == c and o.shape[0] == 1 and not torch.isnan(o).any()
        assert o.shape[2] <= math.ceil(size[1] / r) + 1 and o.shape[3] <= math.ceil(size[2] / r) + 1


@pytest.mark.parametrize("name", ALL)
def test_model_forward_intermediates(name):
    model = timm.create_model(name).eval()
    info = FeatureInfo(model.feature_info, len(model.feature_info))
    size = input_size(model, TARGET_FEAT)
    x = torch.randn(1, *size)
    with torch.no_grad():
        output, intermediates = model.forward_intermediates(x, output_fmt="NCHW")
        assert len(intermediates) == len(info.channels()) >= 3
        for c, r, o in zip(info.channels(), info.reduction(), intermediates):
            assert o.shape[1] == c and o.shape[2] <= math.ceil(size[1] / r) + 1
        assert torch.allclose(output, model.forward_features(x))
        # the last two levels only, and stopping early after level 2
        assert [o.shape for o in model.forward_intermediates(x, indices=2, intermediates_only=True)] == [
            o.shape for o in intermediates[-2:]]
        early = model.forward_intermediates(x, indices=[1, 2], stop_early=True, intermediates_only=True)
        assert [torch.equal(a, b) for a, b in zip(early, intermediates[1:3])] == [True, True]
        model.set_grad_checkpointing()
        torch.testing.assert_close(model.forward_intermediates(x)[0], output, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ALL)
def test_prune_intermediate_layers(name):
    model = timm.create_model(name).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = model.forward_intermediates(x, indices=[0, 2], intermediates_only=True)
        assert model.prune_intermediate_layers([0, 2]) == [0, 2]
        # a tapped level keeps the next stage's first block, up to the tap
        assert len(model.stages) == 3 + (2 in model.tapped_levels) and model.num_classes == 0
        pruned = model.forward_intermediates(x, indices=[0, 2], intermediates_only=True)
        assert all(torch.equal(a, b) for a, b in zip(pruned, expected))
        assert model(x).shape == expected[-1].shape  # no pooling, no head left


@pytest.mark.parametrize("name", ALL)
def test_model_forward_fx(name):
    model = timm.create_model(name).eval()
    x = torch.randn(1, *input_size(model, TARGET_FX))
    with torch.inference_mode():
        out = model(x)
        traced = torch.cat(tuple(fx_model(model)(x).values()))
    assert torch.all(traced == out)


@pytest.mark.parametrize("name", ALL)
def test_model_backward_fx(name):
    model = timm.create_model(name, num_classes=42).train()
    traced = fx_model(model, train=True)
    out = torch.cat(tuple(traced(torch.randn(2, *input_size(name, TARGET_BWD))).values()))
    out.mean().backward()
    assert all(p.grad is not None for p in traced.parameters())
    assert out.shape[-1] == 42


@pytest.mark.parametrize("name", ALL)
def test_model_forward_fx_torchscript(name):
    with timm.layers.set_scriptable(True):
        model = timm.create_model(name).eval()
    scripted = torch.jit.script(fx_model(model))
    with torch.inference_mode():
        out = torch.cat(tuple(scripted(torch.randn(1, *input_size(name, TARGET_JIT))).values()))
    assert out.shape[0] == 1 and not torch.isnan(out).any()
