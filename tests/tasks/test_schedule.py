"""The learning-rate schedule through the Trainer: by steps, or by the share of ``max_time`` spent when the time
runs out first (a fake clock makes every training step take ten seconds)."""
import math

import pytest
from lightning.pytorch import Callback

from .test_recognition import tiny_data, tiny_task, trainer


class RecordRates(Callback):
    def __init__(self):
        self.rates = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.fixture
def fake_clock(monkeypatch):
    """``time.monotonic`` as Lightning's Timer reads it, advanced by 10 s as each training batch starts."""
    import lightning.pytorch.callbacks.timer as timer_module
    now = [1000.0]
    monkeypatch.setattr(timer_module.time, "monotonic", lambda: now[0])

    class Tick(Callback):
        def on_train_batch_start(self, *args):
            now[0] += 10.0
    return Tick()


def test_schedule_by_steps_warms_up_then_decays(tmp_path):
    record = RecordRates()
    task = tiny_task(data := tiny_data(), lr=1e-2, warmup_steps=2, min_lr_ratio=0.01)
    trainer(tmp_path, max_steps=10, limit_val_batches=0, callbacks=[record]).fit(task, datamodule=data)
    rates = record.rates
    assert len(rates) == 10
    assert rates[0] == pytest.approx(0.5e-2) and rates[1] == pytest.approx(1e-2)  # warmup: 2 of 10 steps
    assert all(a >= b for a, b in zip(rates[1:], rates[2:]))  # then cosine decay
    assert rates[-1] < 0.1e-2


def test_schedule_follows_max_time_when_it_ends_first(tmp_path, fake_clock):
    """max_steps 1000 would decay over 1000 steps; max_time 2 minutes of 10-second steps ends after 12, and the
    rate has decayed by then, following the elapsed share of the time."""
    record = RecordRates()
    task = tiny_task(data := tiny_data(), lr=1e-2, warmup_steps=100, min_lr_ratio=0.01)
    trainer(tmp_path, max_steps=1000, max_time="00:00:02:00", limit_val_batches=0,
            callbacks=[fake_clock, record]).fit(task, datamodule=data)
    rates = record.rates
    assert 11 <= len(rates) <= 13  # the Timer stopped the run at 120 s
    # the rate of batch i is set after batch i - 1, when i batches of 10 s have started: the run is as far as
    # step 1000 * 10 i / 120 - 1; warmup is its first 100 steps (12 s of 120), then cosine over the other 900
    positions = [1000 * 10 * i / 120 - 1 for i in range(len(rates))]
    expected = [(p + 1) / 100 if p < 100 else
                0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, (p - 100) / 900))) for p in positions]
    assert rates[1:] == pytest.approx([1e-2 * e for e in expected[1:]], rel=1e-6)
    assert rates[-1] < 0.05e-2  # decayed at the end of the time, not at step 1000
