"""The recognition task in Python: bad samples and too-long labels are counted, checkpoints rebuild the task."""
import json
import string

import pytest
import torch
from lightning.pytorch import Callback, Trainer

from lightocr.checkpoints import LastCheckpoint
from lightocr.data import SyntheticTextSource, TextRecognitionDataModule
from lightocr.tasks import TextRecognitionTask


def tiny_data(**kwargs):
    def synthetic(size, seed):
        return [SyntheticTextSource(size=size, seed=seed, max_length=5, font_dirs=[])]
    return TextRecognitionDataModule(train_sources=synthetic(32, 0), val_sources=synthetic(8, 1),
                                     test_sources=synthetic(8, 2), batch_size=4, num_workers=0, **kwargs)


def tiny_task(data, **kwargs):
    return TextRecognitionTask(charset=data.charset_symbols, case_sensitive=data.case_sensitive,
                               backbone="lo_mobilenetv3_small_050", neck_kwargs=dict(hidden_size=16), **kwargs)


def trainer(tmp_path, **kwargs):
    return Trainer(default_root_dir=tmp_path, accelerator="cpu", logger=False, enable_progress_bar=False,
                   enable_model_summary=False, **kwargs)


def test_task_needs_a_charset():
    with pytest.raises(ValueError, match="needs a charset"):
        TextRecognitionTask()


def test_fit_test_and_rebuild_from_checkpoint(tmp_path):
    data = tiny_data()
    task = tiny_task(data)
    fit = trainer(tmp_path, max_steps=3, val_check_interval=3, callbacks=[LastCheckpoint()])
    fit.fit(task, datamodule=data)
    results = fit.test(task, datamodule=data, verbose=False)[0]
    assert {"test/word_acc", "test/word_acc_bench", "test/cer", "test/ned", "test/loss"} <= set(results)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert last.exists()
    rebuilt = TextRecognitionTask.load_from_checkpoint(last, weights_only=True)
    x = torch.randn(2, 3, 32, 64)
    task.eval()
    rebuilt.eval()
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), task(x))
    assert rebuilt.charset.symbols == data.charset_symbols


class InterruptAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_train_batch_end(self, trainer, *args):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def test_ctrl_c_leaves_a_last_checkpoint(tmp_path):
    data = tiny_data()
    run = trainer(tmp_path, max_steps=50, limit_val_batches=0, callbacks=[LastCheckpoint(), InterruptAt(2)])
    with pytest.raises(SystemExit):  # Lightning shuts down gracefully, then exits
        run.fit(tiny_task(data), datamodule=data)
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["global_step"] == 2


def test_grayscale_data_builds_a_grayscale_model(tmp_path):
    data = tiny_data(channels=1)
    task = tiny_task(data, in_chans=1)
    trainer(tmp_path, max_steps=1, limit_val_batches=0).fit(task, datamodule=data)


def test_the_document_config_trains_on_punctuated_lines_of_several_words(tmp_path):
    """`configs/crnn_document.yaml` as a user runs it (its own text settings, small sizes): the printable charset,
    case-sensitive, and training lines that look like a page's: several words, punctuation, capitals."""
    from lightocr.ocr.charset import Charset

    from ..test_cli import BIN, ROOT, checkpoint, run

    document = dict(max_length=48, word_stop=0.1, punctuation_ratio=0.3, lexicon_ratio=0.7, number_ratio=0.15)
    source = SyntheticTextSource(size=300, seed=4, **document)
    charset = Charset.from_spec("printable")
    source.use_charset(charset.symbols, charset.case_sensitive)
    texts = [source.load(i)[1] for i in range(300)]
    assert sum(" " in t for t in texts) > 120 and sum(len(t) > 20 for t in texts) > 75
    assert sum(any(c in string.punctuation for c in t) for t in texts) > 90
    assert sum(any(c.isupper() for c in t) for t in texts) > 60
    small = dict(document, size=8, font_dirs=[])
    run([str(BIN / "lightning"), "fit", "--config", str(ROOT / "configs" / "crnn_document.yaml"),
         "--trainer.max_steps=2", "--trainer.val_check_interval=2", "--trainer.enable_progress_bar=false",
         "--model.init_args.backbone=lo_mobilenetv3_small_050", "--model.init_args.neck_kwargs={hidden_size: 16}",
         "--data.init_args.batch_size=4", "--data.init_args.num_workers=0", "--data.init_args.width_pool=1",
         "--data.init_args.train_sources=" + json.dumps([dict(class_path="lightocr.data.SyntheticTextSource",
                                                             init_args=small)]),
         "--data.init_args.val_sources=" + json.dumps([dict(class_path="lightocr.data.SyntheticTextSource",
                                                           init_args=dict(small, size=4, seed=1))])],
        tmp_path, env=dict(WANDB_API_KEY="", WANDB_MODE="offline"))
    hparams = checkpoint(tmp_path / "runs/crnn_document/version_0/checkpoints/last.ckpt")["hyper_parameters"]
    assert len(hparams["charset"]) == 95 and hparams["case_sensitive"] and hparams["input_geometry"]["max_width"] == 800
