"""Starting a run from weights, as users run it: ``backbone_weights`` (a torchvision file, .safetensors) and
``init_from`` (a trained recognizer, another alphabet) through ``lightning fit``; the refusals."""
import json

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from lightocr.errors import CheckpointError, ConfigError
from lightocr.tasks import ImageClassificationTask, TextRecognitionTask, load_task
from lightocr.tasks.weights import STARTED_FROM

from ..test_cli import BIN, ROOT, checkpoint, fit, run

GLYPHS = "0123456789"


def glyphs(size, seed, classes=GLYPHS):
    return json.dumps(dict(class_path="lightocr.data.GlyphSource",
                           init_args=dict(size=size, seed=seed, classes=classes, font_dirs=[])))


def test_a_classifier_starts_from_a_torchvision_file(tmp_path):
    """MobileNetV3-Small from torchvision's layout in a .safetensors file (sorted keys), grayscale input: the
    stem is the file's summed over its colour channels; the file is recorded, then never needed again."""
    reference = torchvision.models.mobilenet_v3_small()
    weights = tmp_path / "mobilenet_v3_small.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(weights))
    run([str(BIN / "lightning"), "fit", "--config", str(ROOT / "configs" / "cls_mobilenetv3.yaml"),
         "--trainer.max_steps=1", "--trainer.val_check_interval=1", "--trainer.enable_progress_bar=false",
         f"--model.init_args.backbone_weights={weights}", "--model.init_args.lr=0",
         "--data.init_args.batch_size=4", "--data.init_args.num_workers=0",
         f"--data.init_args.train_source={glyphs(8, 0)}", f"--data.init_args.val_source={glyphs(4, 1)}"],
        tmp_path, env=dict(WANDB_API_KEY="", WANDB_MODE="offline"))
    last = tmp_path / "runs" / "cls_mobilenetv3" / "version_0" / "checkpoints" / "last.ckpt"
    state = checkpoint(last)
    assert state[STARTED_FROM] == {"backbone_weights": str(weights)}
    assert state["hyper_parameters"]["backbone_weights"] is None
    stem = state["state_dict"]["model.stem.conv.weight"]
    torch.testing.assert_close(stem, reference.features[0][0].weight.sum(1, keepdim=True))  # lr 0: as loaded
    weights.unlink()
    task = load_task(str(last))  # the weights are in the checkpoint
    torch.testing.assert_close(task.model.stem.conv.weight, stem)


def test_backbone_weights_refused_when_missing_or_of_another_network(tmp_path):
    with pytest.raises(ConfigError, match="backbone_weights: no such file .*nope.pth"):
        ImageClassificationTask(classes=list(GLYPHS), backbone_weights=str(tmp_path / "nope.pth"))
    other = tmp_path / "mobilenet_v2.pth"
    torch.save(torchvision.models.mobilenet_v2().state_dict(), other)
    with pytest.raises(ConfigError, match=r"mobilenet_v2.pth does not fit lo_mobilenetv3_small_100.*'stem.conv"):
        ImageClassificationTask(classes=list(GLYPHS), backbone_weights=str(other))


def lines(size, seed):
    """Synthetic lines in DejaVu Sans, which has the German letters and the currency symbols."""
    return dict(class_path="lightocr.data.SyntheticTextSource",
                init_args=dict(size=size, seed=seed, max_length=5, font_include=["DejaVuSans.ttf"],
                               hershey_fonts=False, builtin_font=False))


def test_a_recognizer_starts_from_a_trained_one_with_another_alphabet(tmp_path):
    """A recognizer of the digits and a-z, then a new run from it with German letters and currency symbols:
    shared symbols keep their CTC rows, new ones start fresh, dropped ones go, and the log says so."""
    data = dict(train=[lines(16, 0)], val=[lines(4, 1)])
    old = tmp_path / "old.txt"
    old.write_text("\n".join("0123456789abcdefghijklmnopqrstuvwxyz"), encoding="utf-8")
    new = tmp_path / "new.txt"
    new.write_text("\n".join("0123456789abcdefghijklmnopqrstuvwäöüß€£"), encoding="utf-8")  # x, y, z dropped
    fit(tmp_path, "--trainer.max_steps=2", "--trainer.val_check_interval=2", f"--data.init_args.charset={old}",
        here=True, **data)
    start = tmp_path / "runs" / "crnn_mobilenetv3" / "version_0" / "checkpoints" / "last.ckpt"
    result = fit(tmp_path, "--trainer.max_steps=1", "--trainer.val_check_interval=1", "--model.init_args.lr=0",
                 f"--model.init_args.init_from={start}", f"--data.init_args.charset={new}", **data)
    assert (f"init_from: 33 symbols carried, 6 new (ä, ö, ü, ß, €, £), 3 dropped (x, y, z) (from {start})"
            in result.stderr + result.stdout)
    second = tmp_path / "runs" / "crnn_mobilenetv3" / "version_1" / "checkpoints" / "last.ckpt"
    before, after = checkpoint(start), checkpoint(second)
    assert after["global_step"] == 1 and after[STARTED_FROM] == {"init_from": str(start)}
    old_rows, new_rows = before["state_dict"]["model.head.fc.weight"], after["state_dict"]["model.head.fc.weight"]
    symbols_then, symbols_now = ["<blank>", *"0123456789abcdefghijklmnopqrstuvwxyz"], \
        ["<blank>", *"0123456789abcdefghijklmnopqrstuvwäöüß€£"]
    for row, symbol in enumerate(symbols_now):
        if symbol in symbols_then:  # lr 0: the carried rows as they were
            torch.testing.assert_close(new_rows[row], old_rows[symbols_then.index(symbol)])
    assert not any(torch.equal(new_rows[symbols_now.index(s)], r) for s in "äöüß€£" for r in old_rows)
    weights = [k for k in before["state_dict"] if not k.startswith("model.head.") and "running_" not in k
               and "num_batches" not in k]  # BatchNorm statistics move in a training step even at lr 0
    assert any(k.startswith("model.neck.") for k in weights)
    for key in weights:  # the backbone and neck whole
        torch.testing.assert_close(after["state_dict"][key], before["state_dict"][key])

    # both a start and a resume: refused, saying which to keep
    refused = fit(tmp_path, f"--model.init_args.init_from={start}", f"--data.init_args.charset={new}",
                  f"--ckpt_path={start}", check=False, **data)
    assert refused.returncode != 0 and "Keep init_from for a new run, or --ckpt_path to resume" in refused.stderr
    # the run init_from started, resumed with its own config: allowed
    resumed = fit(tmp_path, "--trainer.max_steps=2", "--trainer.val_check_interval=1", "--model.init_args.lr=0",
                  f"--model.init_args.init_from={start}", f"--data.init_args.charset={new}",
                  f"--ckpt_path={second}", **data)
    assert checkpoint(second)["global_step"] == 2, resumed.stderr[-2000:]


def test_init_from_refuses_what_is_not_a_checkpoint_of_its_task(tmp_path):
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    task = TextRecognitionTask(charset=list("abc"), backbone="lo_mobilenetv3_small_050")
    with pytest.raises(CheckpointError, match="junk.ckpt"):
        task.start_from(str(junk))
    classifier = ImageClassificationTask(classes=["cat", "dog"], backbone="lo_mobilenetv3_small_050")
    saved = tmp_path / "cls.ckpt"
    torch.save(dict(state_dict=classifier.state_dict(), hyper_parameters=dict(classifier.hparams),
                    lightocr_task="lightocr.tasks.classification.task:ImageClassificationTask"), saved)
    with pytest.raises(CheckpointError, match="is a image-classification checkpoint; this run trains text-recognition"):
        task.start_from(str(saved))


def test_a_classifier_maps_its_rows_by_class_name(tmp_path):
    trained = ImageClassificationTask(classes=["cat", "dog", "owl"], backbone="lo_mobilenetv3_small_050")
    saved = tmp_path / "cls.ckpt"
    torch.save(dict(state_dict=trained.state_dict(), hyper_parameters=dict(trained.hparams),
                    lightocr_task="lightocr.tasks.classification.task:ImageClassificationTask"), saved)
    task = ImageClassificationTask(classes=["owl", "cat", "emu"], backbone="lo_mobilenetv3_small_050")
    task.start_from(str(saved))
    old, new = trained.model.classifier.weight, task.model.classifier.weight
    torch.testing.assert_close(new[0], old[2])
    torch.testing.assert_close(new[1], old[0])
    assert not any(torch.equal(new[2], row) for row in old)
    unrelated = ImageClassificationTask(classes=["x", "y"], backbone="lo_mobilenetv3_small_050")
    with pytest.warns(UserWarning, match="no classes in common .* nothing is carried but the backbone and neck"):
        unrelated.start_from(str(saved))


def test_resume_refuses_other_class_lists_and_backbones_before_any_weight_is_touched():
    trained = dict(ImageClassificationTask(classes=["cat", "dog"], backbone="lo_mobilenetv3_small_050").hparams)
    reordered = ImageClassificationTask(classes=["dog", "cat"], backbone="lo_mobilenetv3_small_050")
    with pytest.raises(CheckpointError, match="classes differ from the data's .the same 2 in another order.*init_from"):
        reordered.on_load_checkpoint(dict(hyper_parameters=trained))
    wider = ImageClassificationTask(classes=["cat", "dog"], backbone="lo_mobilenetv3_small_100")
    with pytest.raises(CheckpointError, match="checkpoint backbone='lo_mobilenetv3_small_050' differs from this "
                                              "run's backbone='lo_mobilenetv3_small_100'"):
        wider.on_load_checkpoint(dict(hyper_parameters=trained))
    with pytest.raises(CheckpointError, match="not written by ImageClassificationTask .* no classes"):
        wider.on_load_checkpoint(dict(hyper_parameters=dict(charset=list("abc"))))


def test_a_recognizer_starts_from_the_shipped_document_model_by_name(tmp_path):
    """``init_from: lightocr-rec-document``: fine-tuning a user's alphabet starts from the model in the package;
    its printable rows are carried by symbol."""
    new = tmp_path / "new.txt"
    new.write_text("\n".join("0123456789abcdefghijklmnopqrstuvwxyzäöüß€"), encoding="utf-8")
    result = fit(tmp_path, "--trainer.max_steps=1", "--trainer.val_check_interval=1",
                 "--model.init_args.backbone=lo_mobilenetv3_small_100",
                 "--model.init_args.neck_kwargs={hidden_size: 96, num_layers: 2, residual: true}",
                 "--model.init_args.init_from=lightocr-rec-document", f"--data.init_args.charset={new}",
                 train=[lines(8, 0)], val=[lines(4, 1)])
    assert "init_from: 36 symbols carried, 5 new (ä, ö, ü, ß, €), 59 dropped" in result.stderr + result.stdout
