"""The command lines as users run them: every config parses; fit with bad samples; run folders and resume;
`lightocr read` and `lightning predict` with a checkpoint's input geometry; checks that refuse bad settings."""
import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import lmdb
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from lightocr.cli import lightning_main, lightocr_main
from lightocr.errors import CheckpointError
from lightocr.lightning_cli import LightOCRCLI
from .data.conftest import line_image, png_bytes

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
CONFIG = ROOT / "configs" / "crnn_mobilenetv3.yaml"
BIN = Path(sys.executable).parent


def synthetic(size, seed, max_length=5):
    return dict(class_path="lightocr.data.SyntheticTextSource",
                init_args=dict(size=size, seed=seed, max_length=max_length, font_dirs=[]))


OFFLINE = dict(WANDB_API_KEY="", WANDB_MODE="offline")  # W&B as a user without credentials runs it


def run(command, cwd, env=None, check=True, here=False):
    """A ``lightning`` or ``lightocr`` command in a new process, or, ``here``, in this one (``run_here``)."""
    if here:
        result = run_here(command, cwd, env)
    else:
        environment = dict(os.environ, **(env or {}))
        environment.pop("LIGHTOCR_RUN_DIR", None)
        result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=environment, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr[-4000:]
    return result


def run_here(command, cwd, env=None):
    """The command's main (``lightning_main``, ``lightocr_main``) called in this process with its arguments,
    working directory and environment, its output and exit code caught as a process's, without the 10-15 s a new
    process spends here importing torch and Lightning. For what a command writes, prints and refuses; how a real
    process ends (signals, DDP, pipes) is tested with real processes."""
    main = {"lightning": lightning_main, "lightocr": lightocr_main}[Path(command[0]).name]
    environment, directory = dict(os.environ), os.getcwd()
    os.environ.update(env or {})
    os.environ.pop("LIGHTOCR_RUN_DIR", None)
    os.chdir(cwd)
    out, err, code = io.StringIO(), io.StringIO(), 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(command[1:])
    except SystemExit as ended:
        code = ended.code if isinstance(ended.code, int) else int(ended.code is not None)
    finally:  # W&B's service address (WANDB_SERVICE) stays here: later commands start their own
        os.chdir(directory)
        os.environ.clear()
        os.environ.update(environment)
    return subprocess.CompletedProcess(command, code, out.getvalue(), err.getvalue())


def fit(cwd, *extra, train=None, val=None, subcommand="fit", check=True, env=None, here=False):
    """``lightning <subcommand> --config configs/crnn_mobilenetv3.yaml`` with a tiny network and data, the default
    logger (W&B, offline: the tests have no credentials) and callbacks."""
    command = [str(BIN / "lightning"), subcommand, "--config", str(CONFIG), "--trainer.enable_progress_bar=false",
               "--model.init_args.backbone=lo_mobilenetv3_small_050",
               "--model.init_args.neck_kwargs={hidden_size: 16, residual: true}",
               "--data.init_args.batch_size=4", "--data.init_args.num_workers=0",
               f"--data.init_args.train_sources={json.dumps(train or [synthetic(64, 0)])}",
               f"--data.init_args.val_sources={json.dumps(val or [synthetic(8, 1)])}", *extra]
    return run(command, cwd, env=dict(OFFLINE, **(env or {})), check=check, here=here)


def checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_there_are_configs():
    assert CONFIGS


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_config_parses_and_instantiates(config):
    from lightning.pytorch import LightningDataModule, LightningModule
    cli = LightOCRCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                      args=["--config", str(config)], run=False)
    assert cli.model.hparams.in_chans == cli.datamodule.channels
    if config.name.startswith("cls_"):
        # the class list and the input settings are linked from the data module into the model
        assert cli.model.classes == cli.datamodule.class_names and len(cli.model.classes) == 62
        assert cli.model.hparams.input_settings == cli.datamodule.input_settings
    elif config.name.startswith("det_"):
        assert cli.model.hparams.input_geometry == cli.datamodule.input_geometry  # the page geometry, linked
    else:
        # the charset, the channels and the input geometry are linked from the data module into the model
        assert cli.model.charset.symbols == cli.datamodule.charset_symbols
        assert cli.model.hparams.input_geometry == cli.datamodule.input_geometry


def test_unknown_key_is_named(tmp_path):
    result = run([sys.executable, "-m", "lightocr", "fit", "--config", str(CONFIG),
                  "--model.init_args.backbone_kwarg", "1"], tmp_path, check=False)
    assert result.returncode != 0
    assert "backbone_kwarg" in result.stderr


# bad samples ------------------------------------------------------------------------------------------------
@pytest.fixture
def bad_label_folder(tmp_path):
    """8 lines: 3 good, a corrupt file, a missing file, a symbol outside alnum36, and a label too long for
    its 12-pixel-wide image (3 time steps); one more good line."""
    root = tmp_path / "lines"
    root.mkdir()
    labels = {"good0.png": "abc", "good1.png": "de4", "good2.png": "xyz", "good3.png": "q7"}
    for name, label in labels.items():
        line_image(label).save(root / name)
    (root / "corrupt.png").write_bytes(b"not an image")
    line_image("ü").save(root / "accent.png")
    Image.new("RGB", (12, 32), "white").save(root / "narrow.png")
    rows = [f"{n}\t{l}" for n, l in labels.items()] + [
        "corrupt.png\tcorrupt", "missing.png\tmissing", "accent.png\tü", "narrow.png\tmuchtoolong"]
    (root / "labels.txt").write_text("\n".join(rows) + "\n")
    return root


def bad_lmdb(tmp_path):
    path = tmp_path / "bad.lmdb"
    env = lmdb.open(str(path), map_size=2 ** 26)
    with env.begin(write=True) as txn:
        for number, (image, label) in enumerate([(png_bytes(line_image("ab")), "ab"), (b"corrupt", "cd"),
                                                 (png_bytes(line_image("e5")), "e5"), (b"\x89PNG", "fg")], 1):
            txn.put(f"image-{number:09d}".encode(), image)
            txn.put(f"label-{number:09d}".encode(), label.encode())
        txn.put(b"num-samples", b"4")
    env.close()
    return path


@pytest.mark.parametrize("kind", ["label_file", "lmdb", "unknown_symbols"])
def test_bad_samples_are_counted_and_training_goes_on(tmp_path, bad_label_folder, kind):
    if kind == "label_file":
        source = dict(class_path="lightocr.data.LabelFileSource", init_args=dict(path=str(bad_label_folder / "labels.txt")))
        extra, expected = [], {"image": 2 * 2, "unknown_symbols": 2, "too_long": 2}  # 2 epochs of 8 lines
    elif kind == "lmdb":
        source = dict(class_path="lightocr.data.LmdbSource", init_args=dict(path=str(bad_lmdb(tmp_path))))
        extra, expected = [], {"image": 2 * 4}  # 4 epochs of 4 records
    else:  # the default synthetic lines are alphanumeric here, but the charset is digits only
        source = synthetic(32, 0) | dict(init_args=dict(size=32, seed=0, max_length=5, font_dirs=[],
                                                        alphabet="0123456789abc"))
        extra, expected = ["--data.init_args.charset=digits"], None
    fit(tmp_path, "--trainer.max_steps=4", "--trainer.val_check_interval=2", "--trainer.limit_val_batches=1",
        *extra, train=[source], val=[source])
    state = checkpoint(tmp_path / "runs/crnn_mobilenetv3/version_0/checkpoints/last.ckpt")
    assert state["global_step"] == 4  # every step taken, even on batches with nothing usable
    counts = {kind: int(n) for kind, n in state["skipped_samples"].items() if n}
    if expected is None:
        assert counts.get("unknown_symbols", 0) > 0
    else:
        assert {k: v for k, v in counts.items() if k != "empty_batch"} == expected


def test_raise_policy_stops_on_a_label_too_long_for_its_image(tmp_path, bad_label_folder):
    rows = (bad_label_folder / "labels.txt").read_text().splitlines()
    (bad_label_folder / "labels.txt").write_text("\n".join(r for r in rows if r.startswith(("good", "narrow"))))
    source = dict(class_path="lightocr.data.LabelFileSource", init_args=dict(path=str(bad_label_folder / "labels.txt")))
    result = fit(tmp_path, "--trainer.max_steps=4", "--trainer.limit_val_batches=0", "--data.init_args.on_error=raise",
                 train=[source], check=False)
    assert result.returncode != 0
    assert re.search(r"narrow\.png: 11 symbols, [3-5] time steps", result.stderr) and "on_error" in result.stderr


# run folders, resume -------------------------------------------------------------------------------------------
def wandb_runs(run_dir):
    return sorted((run_dir / "wandb").glob("offline-run-*"))


def test_resume_continues_the_run_in_its_folder_and_wandb_run(tmp_path, bad_label_folder):
    source = dict(class_path="lightocr.data.LabelFileSource", init_args=dict(path=str(bad_label_folder / "labels.txt")))
    first = fit(tmp_path, "--trainer.max_steps=4", "--trainer.limit_val_batches=0", train=[source])
    run_dir = tmp_path / "runs/crnn_mobilenetv3/version_0"
    assert "run folder: runs/crnn_mobilenetv3/version_0" in first.stderr + first.stdout
    assert (run_dir / "config.yaml").is_file() and len(wandb_runs(run_dir)) == 1
    skipped_first = checkpoint(run_dir / "checkpoints/last.ckpt")["skipped_samples"]
    second = fit(tmp_path, "--trainer.max_steps=8", "--trainer.limit_val_batches=0", "--ckpt_path=last",
                 train=[source])
    assert "Restored all states" in second.stderr + second.stdout
    assert sorted(p.name for p in (tmp_path / "runs/crnn_mobilenetv3").iterdir()) == ["version_0"]
    state = checkpoint(run_dir / "checkpoints/last.ckpt")
    assert state["global_step"] == 8
    # the counters of skipped samples go on from the first run's (4 epochs of 8 lines: 4 x 2 bad images)
    assert skipped_first["image"] == 4 and state["skipped_samples"]["image"] == 8
    runs = wandb_runs(run_dir)
    assert len(runs) == 2 and runs[0].name.rsplit("-", 1)[1] == runs[1].name.rsplit("-", 1)[1]  # same W&B id
    # a new launch without --ckpt_path starts the next version
    fit(tmp_path, "--trainer.max_steps=1", "--trainer.limit_val_batches=0", train=[source])
    assert (tmp_path / "runs/crnn_mobilenetv3/version_1/checkpoints/last.ckpt").is_file()


def test_ckpt_path_last_without_an_earlier_run(tmp_path):
    result = fit(tmp_path, "--trainer.max_steps=1", "--ckpt_path=last", check=False, here=True)
    assert result.returncode != 0
    assert "no earlier run under runs/crnn_mobilenetv3 has a checkpoint" in result.stderr
    assert not (tmp_path / "runs/crnn_mobilenetv3/version_0").exists()
    # auto: resume when there is a run, start one otherwise
    fit(tmp_path, "--trainer.max_steps=2", "--trainer.limit_val_batches=0", "--ckpt_path=auto", here=True)
    assert checkpoint(tmp_path / "runs/crnn_mobilenetv3/version_0/checkpoints/last.ckpt")["global_step"] == 2


def test_resume_with_another_config_is_refused(tmp_path):
    fit(tmp_path, "--trainer.max_steps=2", "--trainer.limit_val_batches=0", here=True)
    other = tmp_path / "crnn_other.yaml"
    other.write_text(CONFIG.read_text().replace("backbone: lo_mobilenetv3_small_075", "backbone: lo_mobilenetv2_050"))
    last = tmp_path / "runs/crnn_mobilenetv3/version_0/checkpoints/last.ckpt"
    result = run([str(BIN / "lightning"), "fit", "--config", str(other), f"--ckpt_path={last}",
                  "--data.init_args.height=48"], tmp_path, check=False, env=dict(WANDB_MODE="disabled"), here=True)
    assert result.returncode != 0
    assert f"it was written by a run of {CONFIG}" in result.stderr and f"({other})" in result.stderr
    assert "backbone: checkpoint 'lo_mobilenetv3_small_050', config 'lo_mobilenetv2_050'" in result.stderr
    assert "'height': 32" in result.stderr


def test_devices_above_the_core_count_are_refused(tmp_path):
    result = fit(tmp_path, "--trainer.accelerator=cpu", f"--trainer.devices={os.cpu_count() + 1}", check=False,
                 here=True)
    assert result.returncode != 0
    assert f"asks for {os.cpu_count() + 1} CPU processes" in result.stderr
    assert not (tmp_path / "runs").exists()


# reading with a checkpoint ---------------------------------------------------------------------------------
def independent_read(state, image_path):
    """Read one image with the checkpoint's network, but shaped and decoded here: grayscale, 24 pixels high, the
    width scaled by the aspect ratio, (x / 255 - 0.5) / 0.5, greedy CTC (argmax, merge repeats, drop blanks)."""
    from lightocr.tasks import TextRecognitionTask
    hparams = {k: v for k, v in state["hyper_parameters"].items() if not k.startswith("_")}
    task = TextRecognitionTask(**hparams)
    task.load_state_dict(state["state_dict"])
    image = Image.open(image_path).convert("L")
    width = min(200, round(image.width * 24 / image.height))
    array = np.asarray(image.resize((width, 24), Image.BILINEAR), dtype=np.float32)
    x = (torch.from_numpy(array)[None, None] / 255 - 0.5) / 0.5
    with torch.no_grad():
        probs = task.eval().model(x)[0].softmax(-1)
    best, text, previous, confidence = probs.argmax(-1).tolist(), "", 0, 1.0
    for t, index in enumerate(best):
        if index not in (0, previous):
            text += hparams["charset"][index - 1]
            confidence *= float(probs[t, index])
        previous = index
    return text, confidence


def test_read_and_predict_use_the_checkpoints_input_geometry(tmp_path):
    fit(tmp_path, "--trainer.max_steps=6", "--trainer.limit_val_batches=0", "--data.init_args.height=24",
        "--data.init_args.max_width=200", "--data.init_args.channels=1", "--data.init_args.pad_to=batch",
        train=[synthetic(64, 0, max_length=3)], here=True)
    last = tmp_path / "runs/crnn_mobilenetv3/version_0/checkpoints/last.ckpt"
    state = checkpoint(last)
    assert state["hyper_parameters"]["input_geometry"] == dict(height=24, max_width=200, channels=1, pad_to="batch",
                                                               multiple=8, mean=0.5, std=0.5)
    images = []
    for i, (text, mode, width) in enumerate([("ab1", "RGB", 80), ("7", "L", 40), ("xyz", "RGBA", 120)]):
        # 24 pixels high and a multiple of 8 wide: the checkpoint's geometry adds no padding
        image = Image.new("RGB", (width, 24), "white")
        ImageDraw.Draw(image).text((4, 2), text, font=ImageFont.load_default(18), fill="black")
        images.append(tmp_path / f"line{i}.png")
        image.convert(mode).save(images[-1])
    read = run([str(BIN / "lightocr"), "read", "--batch-size=1", "--ckpt", str(last), *map(str, images)], tmp_path,
               here=True)
    rows = [line.split("\t") for line in read.stdout.strip().split("\n")]
    assert [r[0] for r in rows] == list(map(str, images))
    for (_, text, confidence), image in zip(rows, images):
        expected_text, expected_confidence = independent_read(state, image)
        assert text == expected_text
        assert float(confidence) == pytest.approx(expected_confidence, abs=2e-4)
    # lightning predict: the config says height 32 and RGB, the checkpoint 24 and grayscale; the checkpoint wins
    fit(tmp_path, f"--ckpt_path={last}", f"--data.init_args.predict_paths={json.dumps(list(map(str, images)))}",
        "--data.init_args.batch_size=1", subcommand="predict", here=True)
    written = (tmp_path / "runs/crnn_mobilenetv3/version_1/predictions.tsv").read_text().strip().split("\n")
    assert [line.split("\t")[:2] for line in written] == [r[:2] for r in rows]


def test_read_reports_bad_files(tmp_path):
    from lightocr.cli import read_main
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        read_main(["--ckpt", str(tmp_path / "none.ckpt"), str(tmp_path)])
    (tmp_path / "bad.ckpt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        read_main(["--ckpt", str(tmp_path / "bad.ckpt"), str(tmp_path)])


# configs composed from a shared base --------------------------------------------------------------------------
FAMILY_CONFIGS = {"crnn_shufflenetv1.yaml": "lo_shufflenetv1_g3_100", "crnn_shufflenetv2.yaml": "lo_shufflenetv2_100",
                  "crnn_squeezenet.yaml": "lo_squeezenet1_1", "crnn_xception.yaml": "lo_xception",
                  "crnn_rexnet.yaml": "lo_rexnet_100"}


@pytest.mark.parametrize("name", sorted(FAMILY_CONFIGS))
def test_family_config_extends_the_shared_recipe(name):
    from lightning.pytorch import LightningDataModule, LightningModule
    text = (ROOT / "configs" / name).read_text()
    assert "base: crnn_mobilenetv3.yaml" in text and "trainer:" not in text  # only what differs
    cli = LightOCRCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                      args=["--config", str(ROOT / "configs" / name)], run=False)
    base = LightOCRCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                       args=["--config", str(CONFIG)], run=False)
    assert cli.model.hparams.backbone == FAMILY_CONFIGS[name]
    for key in ("lr", "neck_kwargs", "channels_last", "warmup_steps"):
        assert cli.model.hparams[key] == base.model.hparams[key]
    assert cli.trainer.max_steps == base.trainer.max_steps


def family_fit(cwd, name, lines, *extra):
    """`lightning fit --config configs/<name>` on ``lines`` synthetic lines (4 to validate) with a small neck, in
    this process (``run_here``)."""
    return run([str(BIN / "lightning"), "fit", "--config", str(ROOT / "configs" / name),
                "--trainer.enable_progress_bar=false", "--model.init_args.neck_kwargs={hidden_size: 16, residual: true}",
                "--data.init_args.batch_size=4", "--data.init_args.num_workers=0",
                f"--data.init_args.train_sources={json.dumps([synthetic(lines, 0)])}",
                f"--data.init_args.val_sources={json.dumps([synthetic(4, 1)])}", *extra], cwd, env=OFFLINE, here=True)


@pytest.mark.parametrize("name", sorted(FAMILY_CONFIGS))
def test_short_fit_of_each_family_config(tmp_path, name):
    """`lightning fit --config configs/<family>.yaml` (tiny data, a few steps), then read a line with its
    checkpoint (in this process: ``run_here``)."""
    family_fit(tmp_path, name, 16, "--trainer.max_steps=3", "--trainer.val_check_interval=3")
    run_dir = tmp_path / "runs" / Path(name).stem / "version_0"
    last = run_dir / "checkpoints" / "last.ckpt"
    assert checkpoint(last)["global_step"] == 3
    assert checkpoint(last)["hyper_parameters"]["backbone"] == FAMILY_CONFIGS[name]
    saved = (run_dir / "config.yaml").read_text()
    assert FAMILY_CONFIGS[name] in saved and "base: null" in saved  # the resolved whole, reusable on its own
    image = tmp_path / "line.png"
    line_image("ab12").save(image)
    read = run([str(BIN / "lightocr"), "read", "--ckpt", str(last), str(image)], tmp_path, here=True)
    assert read.stdout.startswith(f"{image}\t")


def test_runs_one_after_the_other_in_one_python_process_keep_their_own_folders_and_wandb_runs(tmp_path):
    """As in a notebook: the second run neither reuses the first's folder nor logs into its W&B run (WandbLogger
    takes over a live run)."""
    for _ in range(2):
        family_fit(tmp_path, "crnn_squeezenet.yaml", 4, "--trainer.max_steps=1", "--trainer.limit_val_batches=0")
    runs = tmp_path / "runs" / "crnn_squeezenet"
    wandb_runs = [sorted(p.name for p in (runs / version / "wandb").glob("offline-run-*"))
                  for version in ("version_0", "version_1")]
    assert [len(found) for found in wandb_runs] == [1, 1] and wandb_runs[0] != wandb_runs[1]


def test_a_missing_base_is_named(tmp_path):
    config = tmp_path / "mine.yaml"
    config.write_text("base: nowhere.yaml\n")
    result = run([str(BIN / "lightning"), "fit", "--config", str(config)], tmp_path, check=False, here=True)
    assert result.returncode != 0 and "base config nowhere.yaml not found" in result.stderr


# image classification ---------------------------------------------------------------------------------------
def classify_fit(cwd, config, folder, *extra, subcommand="fit", check=True, here=False):
    """``lightning <subcommand> --config configs/<config>`` on an image folder, with the default logger and
    callbacks; the class list comes from the folder."""
    source = json.dumps(dict(class_path="lightocr.data.ImageFolderSource", init_args=dict(root=str(folder))))
    command = [str(BIN / "lightning"), subcommand, "--config", str(ROOT / "configs" / config),
               "--trainer.enable_progress_bar=false", f"--data.init_args.train_source={source}",
               f"--data.init_args.val_source={source}", f"--data.init_args.test_source={source}",
               "--data.init_args.batch_size=4", "--data.init_args.num_workers=0", *extra]
    return run(command, cwd, env=OFFLINE, check=check, here=here)


def test_classification_fit_resume_predict_and_classify(tmp_path, shapes_folder):
    config = "cls_mobilenetv3.yaml"
    run_dir = tmp_path / "runs" / Path(config).stem / "version_0"
    classify_fit(tmp_path, config, shapes_folder, "--trainer.max_steps=4", "--trainer.val_check_interval=2")
    last = run_dir / "checkpoints" / "last.ckpt"
    state = checkpoint(last)
    assert state["global_step"] == 4 and state["hyper_parameters"]["classes"] == ["circle", "square"]
    assert state["skipped_samples"]["image"] >= 1  # the corrupt file: counted, training went on
    # resume in the same folder, at the step it stopped
    classify_fit(tmp_path, config, shapes_folder, "--trainer.max_steps=6", "--trainer.val_check_interval=2",
                 "--ckpt_path", "last")
    assert checkpoint(last)["global_step"] == 6
    assert not (run_dir.parent / "version_1").exists()
    # predict writes path<TAB>class<TAB>probability; lightocr classify prints the same lines
    image = shapes_folder / "circle" / "0.png"
    classify_fit(tmp_path, config, shapes_folder, "--ckpt_path", "last",
                 f"--data.init_args.predict_paths=[{image}]", subcommand="predict")
    written = next((tmp_path / "runs" / Path(config).stem).rglob("predictions.tsv")).read_text().splitlines()
    path, label, probability = written[0].split("\t")
    assert path == str(image) and label in ("circle", "square") and 0.5 <= float(probability) <= 1
    printed = run([str(BIN / "lightocr"), "classify", "--ckpt", str(last), str(image)], tmp_path).stdout
    assert printed.splitlines() == written
    # a text-recognition command refuses a classification checkpoint, naming the right one
    refused = run([str(BIN / "lightocr"), "read", "--ckpt", str(last), str(image)], tmp_path, check=False)
    assert refused.returncode != 0 and "lightocr classify" in refused.stderr
    from lightocr.cli import read_main
    with pytest.raises(CheckpointError, match="not a text-recognition checkpoint .*use `lightocr classify`"):
        read_main(["--ckpt", str(last), str(image)])


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("cls_*.yaml")
                                           if p.name != "cls_mobilenetv3.yaml"))
def test_short_fit_of_each_classification_config(tmp_path, shapes_folder, config):
    """`lightning fit --config configs/<family>.yaml` on an image folder, a few steps, in this process
    (``run_here``); the default config's whole course runs as a command above."""
    classify_fit(tmp_path, config, shapes_folder, "--trainer.max_steps=2", "--trainer.val_check_interval=2", here=True)
    state = checkpoint(tmp_path / "runs" / Path(config).stem / "version_0" / "checkpoints" / "last.ckpt")
    assert state["global_step"] == 2 and state["hyper_parameters"]["classes"] == ["circle", "square"]


def test_classification_resume_with_another_class_list_is_refused(tmp_path, shapes_folder):
    classify_fit(tmp_path, "cls_mobilenetv3.yaml", shapes_folder, "--trainer.max_steps=2",
                 "--trainer.val_check_interval=2", here=True)
    (shapes_folder / "triangle").mkdir()
    shutil_image = shapes_folder / "circle" / "0.png"
    (shapes_folder / "triangle" / "0.png").write_bytes(shutil_image.read_bytes())
    result = classify_fit(tmp_path, "cls_mobilenetv3.yaml", shapes_folder, "--trainer.max_steps=4",
                          "--ckpt_path", "last", check=False, here=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "lightocr: error: the checkpoint's classes differ" in result.stderr and "init_from" in result.stderr


def test_classification_ddp_and_bf16(tmp_path, shapes_folder):
    """Two gloo processes with bf16-mixed, as the recognition task runs them: the checkpoint records the
    training position of two ranks."""
    classify_fit(tmp_path, "cls_mobilenetv3.yaml", shapes_folder, "--trainer.max_steps=2",
                 "--trainer.limit_val_batches=0", "--trainer.strategy=ddp", "--trainer.devices=2",
                 "--trainer.accelerator=cpu", "--trainer.precision=bf16-mixed")
    state = checkpoint(next(tmp_path.rglob("last.ckpt")))
    assert state["global_step"] == 2
    assert state["ClassificationDataModule"]["world_size"] == 2
