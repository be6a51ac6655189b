#!/usr/bin/env python
"""Benchmark every zoo variant against its reference implementation on this machine's CPU.

For each variant: parameters, MACs at 224x224 (``torch.utils.flop_counter``), inference throughput (eval,
``inference_mode``) and training-step throughput (forward, backward, SGD step), ours and the reference timed
alternately in one process (median of repeats), with the ratio ours/reference (above 1: ours is faster).
Training memory is measured at batch 64 as the bytes of the distinct tensors saved for backward (the
activation memory that limits the batch) plus parameters and gradients. ``channels_last`` and
``torch.compile`` figures are for ours. Each family group (``mobilenetv*``, ``shufflenetv*``, ``squeezenet``, ...)
has its own Markdown table in ``docs/benchmarks.md``: a run replaces the rows it measures and keeps the others, and
the section names the commands its rows come from.

    python scripts/benchmark_backbones.py [--models 'lo_mobilenet*'] [--repeats 15]
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import lightocr
from _report import write_section

def group_of(name: str) -> str:
    """``lo_mobilenetv3_small_100`` -> ``mobilenetv``: the letters of the family name, one table per group."""
    return re.match(r"lo_([a-z]+)", name).group(1)


def markers(group: str) -> Tuple[str, str]:
    return f"<!-- backbones:{group}:start -->", f"<!-- backbones:{group}:end -->"


def earlier_rows(path: Path, start: str, end: str) -> Tuple[Dict[str, str], List[str]]:
    """The variant rows and the commands of a group's section written before, if any."""
    text = path.read_text() if path.exists() else ""
    if start not in text or end not in text:
        return {}, []
    section = text[text.index(start):text.index(end)]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| lo_")}
    return rows, re.findall(r"`(python scripts/benchmark_backbones\.py[^`]*)`", section)


def count_macs(model: nn.Module, size: int) -> float:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model.eval()(torch.randn(1, 3, size, size))
    return counter.get_total_flops() / 2


def inference_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step():
        with torch.inference_mode():
            model(x)
    return step


def training_step(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    target = torch.randint(0, 1000, (x.shape[0],))

    def step():
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), target).backward()
        optimizer.step()
    return step


def time_alternately(steps: Dict[str, Callable[[], None]], repeats: int, warmup: int = 2) -> Dict[str, float]:
    """Median seconds per call of each step, the steps interleaved (order flipped every repeat)."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    samples: Dict[str, List[float]] = {key: [] for key in steps}
    keys = list(steps)
    for repeat in range(repeats):
        for key in keys if repeat % 2 == 0 else reversed(keys):
            start = time.perf_counter()
            steps[key]()
            samples[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in samples.items()}


def training_memory(model: nn.Module, batch: int, size: int) -> float:
    """MiB of distinct tensors saved for backward in one training step, plus parameters and gradients."""
    model.train()
    saved: Dict[int, int] = {}

    def pack(tensor: torch.Tensor):
        storage = tensor.untyped_storage()
        saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    x = torch.randn(batch, 3, size, size)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(x).float().logsumexp(1).mean()
    loss.backward()
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    saved.pop(x.untyped_storage().data_ptr(), None)  # the input batch is the same for every model
    model.zero_grad(set_to_none=True)
    return (sum(saved.values()) + 2 * params) / 2 ** 20


def compiled_inference(model: nn.Module, x: torch.Tensor, repeats: int) -> Optional[float]:
    try:
        compiled = torch.compile(model.eval())
        return time_alternately({"c": inference_step(compiled, x)}, repeats, warmup=3)["c"]
    except Exception as error:  # a missing compiler toolchain must not stop the benchmark
        print(f"  torch.compile failed: {type(error).__name__}: {error}", file=sys.stderr)
        return None


def fmt_ratio(ours: float, ref: Optional[float]) -> str:
    return "-" if ref is None else f"{ours / ref:.3f}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="*", help="shell pattern over lightocr.list_models()")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--memory-batch", type=int, default=64)
    parser.add_argument("--compile", default="*_100", help="pattern of variants to time with torch.compile ('' for none)")
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"))
    args = parser.parse_args(argv)
    names = lightocr.list_models(args.models)
    if not names:
        parser.error(f"--models {args.models!r} matches no variant; lightocr.list_models() lists them")
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, args.size, args.size)
    header = ("| variant | reference | params | ref params | MMACs | infer img/s | ref | ratio | train img/s | ref "
              "| ratio | train MiB @%d | ref MiB | channels_last infer | compile infer |" % args.memory_batch)
    rows: Dict[str, List[str]] = {}
    print(header, flush=True)
    for name in names:
        ref_name = lightocr.reference(name)
        ref = lightocr.create_reference(name) if ref_name else None
        # the same classifier dropout as the reference (torchvision: 0.2, timm: 0), so the same graph is timed
        drop_rate = max((m.p for m in ref.modules() if isinstance(m, nn.Dropout)), default=0.0) if ref else 0.2
        ours = lightocr.create_model(name, drop_rate=drop_rate)
        params = sum(p.numel() for p in ours.parameters())
        ref_params = sum(p.numel() for p in ref.parameters()) if ref else None
        macs = count_macs(ours, args.size) / 1e6

        models = {"ours": ours, **({"ref": ref} if ref else {})}
        for model in models.values():
            model.eval()
        infer = time_alternately({k: inference_step(m, x) for k, m in models.items()}, args.repeats)
        for model in models.values():
            model.train()
        train = time_alternately({k: training_step(m, x) for k, m in models.items()}, args.repeats)
        memory = {k: training_memory(m, args.memory_batch, args.size) for k, m in models.items()}

        ours_cl = lightocr.create_model(name).eval().to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        cl = time_alternately({"cl": inference_step(ours_cl, x_cl)}, args.repeats)["cl"]
        comp = None
        if args.compile and re.fullmatch(args.compile.replace("*", ".*"), name):
            comp = compiled_inference(lightocr.create_model(name), x, args.repeats)

        ips = {k: args.batch / v for k, v in infer.items()}
        tps = {k: args.batch / v for k, v in train.items()}
        row = "| " + " | ".join([
            name, ref_name or "-", f"{params:,}", f"{ref_params:,}" if ref_params else "-", f"{macs:.1f}",
            f"{ips['ours']:.1f}", f"{ips['ref']:.1f}" if ref else "-", fmt_ratio(ips["ours"], ips.get("ref")),
            f"{tps['ours']:.1f}", f"{tps['ref']:.1f}" if ref else "-", fmt_ratio(tps["ours"], tps.get("ref")),
            f"{memory['ours']:.1f}", f"{memory['ref']:.1f}" if ref else "-",
            f"{args.batch / cl:.1f}", f"{args.batch / comp:.1f}" if comp else "-",
        ]) + " |"
        rows.setdefault(group_of(name), []).append(row)
        print(row, flush=True)

    command = "python scripts/benchmark_backbones.py " + " ".join(sys.argv[1:] if argv is None else argv)
    for group, group_rows in rows.items():
        start, end = markers(group)
        # rows of this group that the run did not measure stay, with the commands that measured them
        kept, commands = earlier_rows(args.output, start, end)
        measured = {row.split("|")[1].strip(): row for row in group_rows}
        merged = [row for name, row in sorted({**kept, **measured}.items())]
        commands = [c for c in commands if c != command.strip()] if set(kept) - set(measured) else []
        section = "\n".join([
            start, f"## Backbones ({group}*): ours against the reference implementation (CPU)", "",
            "Commands: " + "; ".join(f"`{c}`" for c in [*commands, command.strip()]) + "  ",
            f"Machine: {torch.get_num_threads()} CPU threads, torch {torch.__version__}, batch {args.batch} at "
            f"{args.size}x{args.size}, median of {args.repeats} alternating repeats. Ratios are ours/reference "
            f"throughput. Training memory: distinct tensors saved for backward at batch {args.memory_batch}, plus "
            "parameters and gradients. channels_last and torch.compile: ours, inference img/s.", "",
            header, "|" + "---|" * (header.count("|") - 1), *merged, end])
        write_section(args.output, section, start, end)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
