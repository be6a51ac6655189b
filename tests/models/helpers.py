"""Helpers for model tests: reference values that do not come from the code under test."""
import pytest
import timm
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def randomize_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial affine parameters and running statistics, and every conv bias (zero at
    initialization; SqueezeNet has biases and no BatchNorm) random values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d) and module.bias is not None:
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen))
            if isinstance(module, nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(1 + 0.2 * torch.randn(n, generator=gen))
                module.bias.copy_(0.1 * torch.randn(n, generator=gen))
                module.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
                module.running_var.copy_(0.5 + torch.rand(n, generator=gen))
                module.num_batches_tracked.fill_(7)
    return model


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def relative_max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def level_sizes(name: str, size: int, strides) -> list:
    """Map size per feature level along one axis, from the reference layers' arithmetic (not from our model):
    3x3 "same" convs and pools give ceil(size / stride); SqueezeNet (torchvision) has an unpadded stem and 3x3
    max pools that round up at stride 2 (a stride-1 pool pads by one: lightocr's documented choice); the original
    Xception (timm's legacy_xception) two unpadded 3x3 stem convs."""
    sizes = []
    for level, stride in enumerate(strides):
        if name == "lo_xception" and level == 0:
            size = (size - 3) // stride + 1 - 2
        elif not name.startswith("lo_squeezenet"):
            size = -(-size // stride)
        elif level == 0:
            size = (size - (7 if name == "lo_squeezenet1_0" else 3)) // stride + 1
        elif stride == 2:
            size = -(-(size - 3) // 2) + 1
        sizes.append(size)
    return sizes


def macs(model: nn.Module, size: int = 224) -> float:
    """Multiply-accumulates of one forward pass at ``size`` x ``size`` (torch's FLOP counter, halved)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model.eval()(torch.randn(1, 3, size, size))
    return counter.get_total_flops() / 2


def check_size(name: str, params: int, mac_count=None, size: int = 224, rel: float = 0.01, **kwargs) -> None:
    """A variant's parameter count exactly and its MACs within ``rel`` (a published table's figures)."""
    model = timm.create_model(name, **kwargs)
    assert num_params(model) == params
    if mac_count is not None:
        assert macs(model, size) == pytest.approx(mac_count, rel=rel)
