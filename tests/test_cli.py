"""The command lines: every config parses; a short fit through the CLI; `lightocr read` on its checkpoint."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lightocr.cli import LightOCRCLI

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
BIN = Path(sys.executable).parent


def tiny_sources(size, seed):
    return json.dumps([dict(class_path="lightocr.data.SyntheticTextSource",
                            init_args=dict(size=size, seed=seed, max_length=6, font_dirs=[]))])


def test_there_are_configs():
    assert CONFIGS


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_config_parses_and_instantiates(config):
    from lightning.pytorch import LightningDataModule, LightningModule
    cli = LightOCRCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                      args=["--config", str(config)], run=False)
    # the charset is linked from the data module into the model
    assert cli.model.charset.symbols == cli.datamodule.charset_symbols
    assert cli.model.hparams.in_chans == cli.datamodule.channels


def test_unknown_key_is_named(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lightocr", "fit", "--config", str(CONFIGS[0]),
                             "--model.init_args.backbone_kwarg", "1"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0
    assert "backbone_kwarg" in result.stderr


def test_fit_then_read(tmp_path):
    run = tmp_path / "run"
    command = [str(BIN / "lightning"), "fit", "--config", str(ROOT / "configs/crnn_mobilenetv3.yaml"),
               "--trainer.max_steps=4", "--trainer.val_check_interval=2", "--trainer.limit_val_batches=1",
               f"--trainer.default_root_dir={run}", f"--trainer.logger.init_args.save_dir={run}",
               "--model.init_args.backbone=lo_mobilenetv3_small_050", "--data.init_args.batch_size=4",
               "--data.init_args.num_workers=0", f"--data.init_args.train_sources={tiny_sources(64, 0)}",
               f"--data.init_args.val_sources={tiny_sources(8, 1)}"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoints = sorted(run.rglob("*.ckpt"))
    assert {"last.ckpt"} <= {c.name for c in checkpoints}
    assert any(c.name.startswith("step") for c in checkpoints)  # best by validation word accuracy

    from PIL import Image
    images = []
    for i, size in enumerate([(120, 40), (40, 40), (300, 20)]):
        images.append(tmp_path / f"line{i}.png")
        Image.new("RGB" if i else "L", size, "white").save(images[-1])
    read = subprocess.run([str(BIN / "lightocr"), "read", "--ckpt", str(run.rglob("last.ckpt").__next__()),
                           *map(str, images)], capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    lines = read.stdout.strip().split("\n")
    assert len(lines) == 3
    for line, image in zip(lines, images):
        path, text, confidence = line.split("\t")
        assert path == str(image)
        assert 0.0 <= float(confidence) <= 1.0
        assert all(c in "0123456789abcdefghijklmnopqrstuvwxyz" for c in text)


def test_read_reports_bad_files(tmp_path):
    with pytest.raises(SystemExit, match="checkpoint not found"):
        from lightocr.cli import read_main
        read_main(["--ckpt", str(tmp_path / "none.ckpt"), str(tmp_path)])
    (tmp_path / "bad.ckpt").write_bytes(b"garbage")
    with pytest.raises(SystemExit, match="cannot read checkpoint"):
        read_main(["--ckpt", str(tmp_path / "bad.ckpt"), str(tmp_path)])
