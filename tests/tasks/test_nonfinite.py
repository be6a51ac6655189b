"""A batch that makes the loss NaN skips its step, through the Trainer, in 32-bit with gradient clipping and in
both mixed precisions: no weight or BatchNorm statistic moves, the step is counted, and too many in a row stop
the run. A checkpoint with non-finite weights is never written."""
import pytest
import torch
from lightning.pytorch import Callback
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.plugins import MixedPrecision

from lightocr.checkpoints import LastCheckpoint
from lightocr.errors import NonFiniteTrainingError
from ..fault_helpers import PoisonImages
from .test_recognition import tiny_data, tiny_task, trainer


class StatesAfterSteps(Callback):
    def __init__(self):
        self.states = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.states[trainer.global_step] = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}


PRECISIONS = {"32-true": {}, "bf16-mixed": dict(precision="bf16-mixed"),
              "16-mixed": dict(plugins=[MixedPrecision("16-mixed", "cpu")])}


@pytest.mark.parametrize("precision", PRECISIONS)
def test_a_nan_batch_skips_its_step(tmp_path, precision):
    data, states = tiny_data(), StatesAfterSteps()
    task = tiny_task(data)
    run = trainer(tmp_path, max_steps=6, limit_val_batches=0, gradient_clip_val=1.0,
                  callbacks=[LastCheckpoint(), PoisonImages(steps=[2, 3]), states], **PRECISIONS[precision])
    with pytest.warns(UserWarning, match=r"step 2 skipped: non-finite loss in the batch of samples \["):
        run.fit(task, datamodule=data)
    assert run.global_step == 6
    for key, value in states.states[4].items():  # steps 3 and 4 (global steps 2, 3) changed nothing
        torch.testing.assert_close(value, states.states[2][key], rtol=0, atol=0, msg=key)
    assert any(not torch.equal(states.states[5][k], states.states[4][k]) for k in states.states[4])
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["skipped_nonfinite_steps"] == 2
    assert all(torch.isfinite(v).all() for v in saved["state_dict"].values() if v.is_floating_point())


def test_too_many_nonfinite_steps_in_a_row_stop_the_run(tmp_path):
    data = tiny_data()
    task = tiny_task(data, max_nonfinite_steps=3)
    run = trainer(tmp_path, max_steps=20, limit_val_batches=0,
                  callbacks=[LastCheckpoint(every_n_train_steps=1), PoisonImages(steps=range(2, 20))])
    with pytest.raises(NonFiniteTrainingError, match="3 steps in a row had a non-finite loss"):
        run.fit(task, datamodule=data)
    assert all(torch.isfinite(p).all() for p in task.parameters())
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 4 and saved["skipped_nonfinite_steps"] == 2  # written before the third


class BreakWeights(Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == 2:
            with torch.no_grad():
                next(pl_module.parameters())[0].fill_(float("inf"))


def test_a_checkpoint_with_non_finite_weights_is_never_written(tmp_path):
    data = tiny_data()
    folder = tmp_path / "checkpoints"
    run = trainer(tmp_path, max_steps=6, val_check_interval=3, limit_val_batches=1,
                  callbacks=[ModelCheckpoint(dirpath=folder, monitor="val/score", mode="max"), LastCheckpoint(),
                             BreakWeights()])
    with pytest.raises(NonFiniteTrainingError, match="not writing a checkpoint at step 3: non-finite values in"):
        run.fit(tiny_task(data), datamodule=data)
    assert not list(folder.glob("*.ckpt"))
