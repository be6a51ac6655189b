"""Real training jobs on the CPU: W&B offline records, 2-process DDP, bf16-mixed, exact resume, bad checkpoints."""
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback, Trainer, seed_everything
from lightning.pytorch.callbacks import EMAWeightAveraging

from lightocr.checkpoints import LastCheckpoint
from lightocr.data import SyntheticTextSource, TextRecognitionDataModule
from lightocr.errors import CheckpointError
from lightocr.tasks import TextRecognitionTask
from .tasks.test_recognition import InterruptAt, tiny_data, tiny_task

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "crnn_mobilenetv3.yaml"
CPU_CONFIG = ROOT / "configs" / "crnn_mobilenetv3_cpu.yaml"  # two DDP processes on the CPU


def sources(size, seed):
    return json.dumps([dict(class_path="lightocr.data.SyntheticTextSource",
                            init_args=dict(size=size, seed=seed, max_length=5, font_dirs=[]))])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_command(subcommand, run_dir, *extra, train=None, config=CONFIG):
    """``python -m lightocr <subcommand>`` of a tiny CRNN on synthetic lines; each launch writes to
    ``<run_dir>/version_<n>``."""
    return [sys.executable, "-m", "lightocr", subcommand, "--config", str(config),
            f"--trainer.default_root_dir={run_dir}",
            "--trainer.enable_progress_bar=false", "--model.init_args.backbone=lo_mobilenetv3_small_050",
            "--model.init_args.neck_kwargs={hidden_size: 16, residual: true}",
            "--data.init_args.batch_size=4", "--data.init_args.num_workers=0",
            f"--data.init_args.train_sources={train or sources(64, 0)}",
            f"--data.init_args.val_sources={sources(16, 1)}", *extra]


def cli_environment(env=None):
    environment = dict(os.environ, PYTHONPATH=str(ROOT), MASTER_PORT=str(free_port()), **(env or {}))
    environment.pop("LIGHTOCR_RUN_DIR", None)
    return environment


def cli(subcommand, run_dir, *extra, env=None, train=None, timeout=600, check=True, config=CONFIG):
    result = subprocess.run(cli_command(subcommand, run_dir, *extra, train=train, config=config),
                            capture_output=True, text=True, cwd=run_dir, env=cli_environment(env), timeout=timeout)
    if check:
        assert result.returncode == 0, result.stderr[-4000:]
    return result


def rank_weights_callbacks(folder: Path) -> str:
    """``--trainer.callbacks`` that save each rank's weights in ``folder`` at the end, and ``last.ckpt``."""
    return json.dumps([dict(class_path="tests.jobs_helpers.DumpRankWeights", init_args=dict(folder=str(folder))),
                       dict(class_path="lightocr.checkpoints.LastCheckpoint")])


def read_wandb_records(run_dir: Path):
    """Parse a run's ``.wandb`` transaction log: a 7-byte ``:W&B`` header, then LevelDB-log records (32 KiB
    blocks; each chunk has a 7-byte header: CRC32, length, type FULL/FIRST/MIDDLE/LAST) of protobuf Records."""
    from wandb.proto import wandb_internal_pb2

    data = next(run_dir.glob("*.wandb")).read_bytes()
    assert data[:4] == b":W&B"
    block, position, pending, payloads = 32768, 7, b"", []
    while position + 7 <= len(data):
        left = block - position % block
        if left < 7:
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position:position + 7])
        position += 7
        if kind == 0:  # zero padding up to the end of the block
            position += left - 7
            continue
        chunk, position = data[position:position + length], position + length
        if kind == 1:
            payloads.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        else:
            payloads.append(pending + chunk)
    records = []
    for payload in payloads:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        records.append(record)
    return records


def test_wandb_offline_without_credentials(tmp_path):
    env = {"HOME": str(tmp_path), "WANDB_API_KEY": "", "NETRC": str(tmp_path / "none"), "WANDB_MODE": ""}
    two_sources = json.dumps([dict(class_path="lightocr.data.SyntheticTextSource",
                                   init_args=dict(size=8, seed=seed, max_length=5, font_dirs=[], name=name))
                              for seed, name in ((1, "easy"), (2, "other"))])
    result = cli("fit", tmp_path, "--trainer.max_steps=4", "--trainer.val_check_interval=2",
                 "--trainer.log_every_n_steps=1", f"--data.init_args.val_sources={two_sources}", env=env)
    assert "wandb sync" in result.stdout + result.stderr
    runs = list((tmp_path / "version_0" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    records = read_wandb_records(runs[0])
    history = [{item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
               for r in records if r.WhichOneof("record_type") == "history"]
    keys = set().union(*history)
    assert {"train/loss", "val/word_acc", "val/cer", "lr-AdamW/pg1"} <= keys
    # each validation source on its own, besides the pooled figure
    assert {"val/easy/word_acc", "val/other/word_acc", "val/easy/cer", "val/other/cer"} <= keys
    rows = [h for h in history if "val/easy/word_acc" in h and "val/word_acc" in h]
    assert rows and all(min(r["val/easy/word_acc"], r["val/other/word_acc"]) - 1e-6 <= r["val/word_acc"] <=
                        max(r["val/easy/word_acc"], r["val/other/word_acc"]) + 1e-6 for r in rows)
    assert not any("dataloader_idx" in key for key in keys)
    config = [r.config for r in records if r.WhichOneof("record_type") == "config"]
    config_keys = {item.key for c in config for item in c.update}
    assert {"trainer", "model", "data"} <= config_keys  # the full resolved config
    tables = list(runs[0].glob("files/media/table/val/samples_*.table.json"))
    assert tables
    table = json.loads(tables[-1].read_text())
    assert table["columns"] == ["image", "label", "prediction", "confidence", "correct"]
    assert len(table["data"]) == 16


def test_ddp_two_processes_agree(tmp_path):
    weights = tmp_path / "weights"
    callbacks = rank_weights_callbacks(weights)
    cli("fit", tmp_path, "--trainer.max_steps=3", "--trainer.limit_val_batches=0", "--trainer.strategy=ddp",
        "--trainer.devices=2", "--trainer.accelerator=cpu", f"--trainer.callbacks={callbacks}",
        "--trainer.logger=false", env={"WANDB_MODE": "disabled"})
    rank0, rank1 = (torch.load(weights / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert rank0.keys() == rank1.keys()
    task = tiny_task(tiny_data())
    parameters = {name for name, _ in task.named_parameters()}
    for key in parameters:
        assert torch.equal(rank0[key], rank1[key]), key
    # BatchNorm running statistics are each rank's own (DDP broadcasts rank 0's before every forward; the last
    # update stays local); SyncBatchNorm, which would share them, is GPU-only in PyTorch
    differing = {key for key in rank0 if not torch.equal(rank0[key], rank1[key])}
    assert differing and all(key.endswith(("running_mean", "running_var")) for key in differing)
    checkpoint = next(tmp_path.rglob("last.ckpt"))
    # 3 steps of 4 lines on each of 2 ranks, in the epoch's one pool (the config's width_pool of 8 batches, cut to
    # the 8 batches a rank has)
    assert torch.load(checkpoint, weights_only=True)["TextRecognitionDataModule"] == dict(
        epoch=0, samples=0, pool_batches=3, pool_samples=8 * 4 * 2, world_size=2)
    # resumed on one process: the rest of the epoch is sharded anew, and the log says so
    resumed = cli("fit", tmp_path, "--trainer.max_steps=5", "--trainer.limit_val_batches=0",
                  "--trainer.accelerator=cpu", "--trainer.devices=1", f"--ckpt_path={checkpoint}",
                  "--trainer.logger=false", env={"WANDB_MODE": "disabled"})
    assert "resuming on 1 processes a run saved on 2" in resumed.stderr
    assert torch.load(checkpoint, weights_only=True)["global_step"] == 5
    metrics = {}
    for devices in (1, 2):
        path = tmp_path / f"metrics{devices}.json"
        dump = json.dumps([dict(class_path="tests.jobs_helpers.DumpMetrics", init_args=dict(path=str(path)))])
        validated = cli("validate", tmp_path, f"--ckpt_path={checkpoint}", f"--trainer.devices={devices}",
                        "--trainer.strategy=" + ("ddp" if devices == 2 else "auto"), "--trainer.accelerator=cpu",
                        f"--trainer.callbacks={dump}", "--trainer.logger=false", env={"WANDB_MODE": "disabled"})
        metrics[devices] = json.loads(path.read_text())
        # the metrics are reduced over the ranks before they are logged: Lightning has nothing to ask for
        assert "sync_dist" not in validated.stderr
    for key in ("val/word_acc", "val/cer", "val/ned"):
        assert metrics[2][key] == pytest.approx(metrics[1][key], abs=1e-6), key


def test_ddp_time_bound_schedule_agrees_across_ranks(tmp_path):
    """Under ``max_time`` the schedule follows the elapsed share of the time, which each process measures on its
    own clock; the ranks must still step with one rate, or DDP (which averages gradients, never weights) lets
    their weights drift apart. The CPU recipe's config, time-bound as its benchmark runs it."""
    weights = tmp_path / "weights"
    callbacks = rank_weights_callbacks(weights)
    # 10,000 steps of schedule in 6 seconds: the elapsed share, not the step count, sets every step's rate
    cli("fit", tmp_path, "--trainer.max_steps=10000", "--trainer.max_time=00:00:00:06",
        "--trainer.limit_val_batches=0", f"--trainer.callbacks={callbacks}", "--trainer.logger=false",
        env={"WANDB_MODE": "disabled"}, config=CPU_CONFIG)
    rank0, rank1 = (torch.load(weights / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    parameters = [name for name, _ in tiny_task(tiny_data()).named_parameters()]
    assert [key for key in parameters if not torch.equal(rank0[key], rank1[key])] == []


def test_ddp_rank_with_only_bad_samples_keeps_in_step(tmp_path):
    """Rank 1 can read none of its samples: it still takes every step (a zero loss), so the ranks' gradient
    reductions stay paired; without that, rank 0 would wait for rank 1 forever (the timeout fails the test)."""
    weights = tmp_path / "weights"
    callbacks = rank_weights_callbacks(weights)
    train = json.dumps([dict(class_path="tests.jobs_helpers.UnreadableOnRank",
                             init_args=dict(size=64, seed=0, max_length=5, font_dirs=[]))])
    cli("fit", tmp_path, "--trainer.max_steps=3", "--trainer.limit_val_batches=0", "--trainer.strategy=ddp",
        "--trainer.devices=2", "--trainer.accelerator=cpu", f"--trainer.callbacks={callbacks}",
        "--trainer.logger=false", train=train, env={"WANDB_MODE": "disabled"}, timeout=240)
    rank0, rank1 = (torch.load(weights / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    parameters = {name for name, _ in tiny_task(tiny_data()).named_parameters()}
    assert all(torch.equal(rank0[key], rank1[key]) for key in parameters)
    state = torch.load(next(tmp_path.rglob("last.ckpt")), weights_only=True)
    assert state["global_step"] == 3
    # summed over the ranks: rank 1's 3 batches of 4 unreadable samples, and its 3 empty batches
    assert state["skipped_samples"]["image"] == 12 and state["skipped_samples"]["empty_batch"] == 3


class CheckLoss(Callback):
    def __init__(self):
        self.losses = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.losses.append(outputs["loss"].detach())


def test_bf16_mixed_end_to_end(tmp_path):
    data = tiny_data()
    check = CheckLoss()
    trainer = Trainer(default_root_dir=tmp_path, accelerator="cpu", precision="bf16-mixed", max_steps=3,
                      limit_val_batches=2, val_check_interval=3, logger=False, enable_progress_bar=False,
                      callbacks=[check])
    task = tiny_task(data)
    trainer.fit(task, datamodule=data)
    assert len(check.losses) == 3
    assert all(loss.dtype == torch.float32 and torch.isfinite(loss) for loss in check.losses)
    assert "val/word_acc" in trainer.callback_metrics


def run_until(tmp_path, max_steps, interrupt=None, ckpt_path=None, ema=False, width_pool=1):
    seed_everything(0, workers=True)
    data = tiny_data(pad_to="batch", width_pool=width_pool)
    task = tiny_task(data)
    # the interruption comes after the step's EMA update, as a Ctrl-C between two steps would
    callbacks = [LastCheckpoint()] + ([EMAWeightAveraging(decay=0.9)] if ema else []) + (
        [InterruptAt(interrupt)] if interrupt else [])
    trainer = Trainer(default_root_dir=tmp_path, accelerator="cpu", max_steps=max_steps, limit_val_batches=0,
                      deterministic=True, logger=False, enable_progress_bar=False, callbacks=callbacks)
    if interrupt:
        with pytest.raises(SystemExit):  # Ctrl-C: Lightning saves what it must, then exits
            trainer.fit(task, datamodule=data, ckpt_path=ckpt_path)
    else:
        trainer.fit(task, datamodule=data, ckpt_path=ckpt_path)
    return task, trainer


@pytest.mark.parametrize("ema,stop,pool", [(False, 5, 1), (True, 5, 1), (False, 8, 1), (False, "max_steps", 1),
                                            (False, 5, 4)],
                         ids=["mid-epoch", "mid-epoch-ema", "epoch-end-ctrl-c", "epoch-end-max-steps", "mid-pool"])
def test_resume_gives_the_same_weights(tmp_path, ema, stop, pool):
    # 32 samples / batch 4 = 8 steps an epoch: stop mid-epoch at 5 or at the epoch's end, finish at 12 (into the
    # second epoch, whose lines and augmentations differ from the first's); with width pools of 4 batches, step 5
    # is 1 batch into the epoch's second pool
    straight, _ = run_until(tmp_path / "a", 12, ema=ema, width_pool=pool)
    if stop == "max_steps":
        run_until(tmp_path / "b", 8, ema=ema)
        stop = 8
    else:
        run_until(tmp_path / "b", 12, interrupt=stop, ema=ema, width_pool=pool)
    last = tmp_path / "b" / "checkpoints" / "last.ckpt"
    state = torch.load(last, weights_only=False)
    assert state["global_step"] == stop and state["optimizer_states"] and state["lr_schedulers"]
    resumed, trainer = run_until(tmp_path / "b", 12, ckpt_path=str(last), ema=ema, width_pool=pool)
    assert trainer.global_step == 12
    for (key, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=0, atol=0, msg=key)


def test_checkpoint_of_another_charset_is_refused(tmp_path):
    _, trainer = run_until(tmp_path, 2)
    other = TextRecognitionDataModule(charset="digits", batch_size=4, num_workers=0,
                                      train_sources=[SyntheticTextSource(size=16, alphabet="0123", font_dirs=[])],
                                      val_sources=[])
    task = TextRecognitionTask(charset=other.charset_symbols, backbone="lo_mobilenetv3_small_050",
                               neck_kwargs=dict(hidden_size=16))
    refit = Trainer(default_root_dir=tmp_path / "x", accelerator="cpu", max_steps=4, logger=False,
                    enable_progress_bar=False)
    refused = "checkpoint.s symbols differ from the data.s .*only in the data: .*start a new one with .*init_from"
    with pytest.raises(CheckpointError, match=refused):
        refit.fit(task, datamodule=other, ckpt_path=str(tmp_path / "checkpoints" / "last.ckpt"))


def test_checkpoint_of_another_architecture_is_refused_naming_the_setting(tmp_path):
    run_until(tmp_path, 2)
    data = tiny_data(pad_to="batch")
    other = tiny_task(data, neck="linear")
    refit = Trainer(default_root_dir=tmp_path / "x", accelerator="cpu", max_steps=4, logger=False,
                    enable_progress_bar=False)
    with pytest.raises(CheckpointError, match="checkpoint neck='bilstm' differs from this run's neck='linear'"):
        refit.fit(other, datamodule=data, ckpt_path=str(tmp_path / "checkpoints" / "last.ckpt"))


def test_corrupt_checkpoint_is_named_before_training(tmp_path):
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(b"\x00" * 100)
    command = [sys.executable, "-m", "lightocr", "fit", "--config", str(CONFIG), f"--ckpt_path={bad}"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path,
                            env=dict(os.environ, WANDB_MODE="disabled"))
    assert result.returncode != 0
    assert f"cannot read checkpoint {bad}" in result.stderr

