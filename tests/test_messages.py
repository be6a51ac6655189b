"""What a user sees when a file is wrong: one message naming the file and the problem, a non-zero exit, no
traceback. And run folders: claimed atomically, output rows that a file name cannot forge."""
import multiprocessing
import os
import subprocess
from pathlib import Path

import torch

from lightocr.runs import new_version
from .data.conftest import line_image
from .test_cli import BIN, ROOT, checkpoint, fit, run


def refused(result, *words):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    for word in words:
        assert word in result.stderr, result.stderr[-3000:]


def test_config_files_that_are_not_settings_are_named(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("trainer:\n  max_steps: 3\n model: [\n")
    refused(run([str(BIN / "lightning"), "fit", "--config", str(broken)], tmp_path, check=False, here=True),
            f"{broken}: not valid YAML at line 3, column 2")
    listed = tmp_path / "listed.yaml"
    listed.write_text("- trainer\n- model\n")
    refused(run([str(BIN / "lightning"), "fit", "--config", str(listed)], tmp_path, check=False, here=True),
            f"{listed}: a config file holds settings by name", "this one holds a list")


def test_checkpoints_of_another_version_are_named(tmp_path):
    fit(tmp_path, "--trainer.max_steps=1", "--trainer.limit_val_batches=0", "--trainer.logger=false", here=True)
    last = tmp_path / "runs/crnn_mobilenetv3/version_0/checkpoints/last.ckpt"
    line_image("ab").save(tmp_path / "line.png")
    state = checkpoint(last)
    state["hyper_parameters"]["attention_heads"] = 4  # a setting a later version might add
    torch.save(state, tmp_path / "newer.ckpt")
    refused(run([str(BIN / "lightocr"), "read", "--ckpt", str(tmp_path / "newer.ckpt"), str(tmp_path / "line.png")],
                tmp_path, check=False, here=True),
            f"{tmp_path / 'newer.ckpt'} was written by another version of lightocr", "no setting attention_heads")
    state = checkpoint(last)
    del state["state_dict"]["model.head.fc.weight"]
    torch.save(state, tmp_path / "older.ckpt")
    refused(run([str(BIN / "lightocr"), "read", "--ckpt", str(tmp_path / "older.ckpt"), str(tmp_path / "line.png")],
                tmp_path, check=False, here=True),
            f"{tmp_path / 'older.ckpt'} was written by another version", "1 missing", "model.head.fc.weight")


def test_a_garbage_onnx_file_is_named(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07garbage, not a protobuf of a model" * 10)
    line_image("ab").save(tmp_path / "line.png")
    refused(run([str(BIN / "lightocr"), "read", "--ckpt", str(tmp_path / "model.onnx"), str(tmp_path / "line.png")],
                tmp_path, check=False),
            f"{tmp_path / 'model.onnx'} is not an ONNX model that onnxruntime can load")


def _claim(arguments):
    root, barrier = arguments
    barrier.wait()
    return str(new_version(Path(root)))


def test_launches_at_the_same_moment_claim_different_version_folders(tmp_path):
    with multiprocessing.Manager() as manager:
        barrier = manager.Barrier(8)
        with multiprocessing.get_context("fork").Pool(8) as pool:
            claimed = pool.map(_claim, [(str(tmp_path), barrier)] * 8)
    assert sorted(claimed) == sorted(str(tmp_path / f"version_{n}") for n in range(8))


def test_file_names_with_tabs_and_newlines_cannot_forge_rows(tmp_path):
    fit(tmp_path, "--trainer.max_steps=1", "--trainer.limit_val_batches=0", "--trainer.logger=false", here=True)
    last = tmp_path / "runs/crnn_mobilenetv3/version_0/checkpoints/last.ckpt"
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in ("plain.png", "tab\there.png", "two\nlines.png", "back\\slash.png"):
        line_image("ab").save(folder / name)
    result = run([str(BIN / "lightocr"), "read", "--ckpt", str(last), str(folder)], tmp_path, here=True)
    rows = result.stdout.splitlines()
    assert len(rows) == 4 and all(row.count("\t") == 2 for row in rows)
    keys = sorted(row.split("\t")[0] for row in rows)
    assert keys == sorted(f"{folder}/{name}" for name in ("plain.png", "tab\\there.png", "two\\nlines.png",
                                                          "back\\\\slash.png"))


def test_torchrun_script_names_a_new_run_or_the_one_given(tmp_path):
    """With a stand-in ``torchrun`` that prints the run folder it is handed: each launch without RUN gets a new
    folder, RUN names one to resume, and several nodes without RUN are refused (each would pick its own)."""
    (tmp_path / "torchrun").write_text('#!/bin/sh\necho "$LIGHTOCR_RUN_DIR"\n')
    (tmp_path / "torchrun").chmod(0o755)
    environment = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
    for key in ("RUN", "NNODES", "LIGHTOCR_RUN_DIR"):
        environment.pop(key, None)
    script = [str(ROOT / "scripts" / "torchrun_train.sh"), "configs/crnn_mobilenetv3.yaml"]

    def launch(**env):
        return subprocess.run(script, cwd=ROOT, env=dict(environment, **env), capture_output=True, text=True)

    first, second = launch().stdout.strip(), launch().stdout.strip()
    assert first.startswith("runs/crnn_mobilenetv3/") and second.startswith("runs/crnn_mobilenetv3/")
    assert first != second
    assert launch(RUN="exp1").stdout.strip() == "runs/crnn_mobilenetv3/exp1"
    nodes = launch(NNODES="2")
    assert nodes.returncode != 0 and "RUN" in nodes.stderr
