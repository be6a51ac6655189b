"""The inference engines as users run them: `lightocr export`, then `lightocr read` / `classify` with PyTorch
(BatchNorm folded, channels_last) and with ONNX Runtime give the same text; bad files and settings are named."""
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from PIL import Image, ImageDraw, ImageFont

from lightocr.cli import read_main
from lightocr.errors import ConfigError, MissingPackageError, ModelFileError

from .test_cli import BIN, classify_fit, fit, run, synthetic


def write_lines(folder, texts):
    paths = []
    for i, (text, mode) in enumerate(texts):
        image = Image.new("RGB", (12 * len(text) + 16, 32), "white")
        ImageDraw.Draw(image).text((6, 4), text, font=ImageFont.load_default(22), fill="black")
        paths.append(folder / f"line{i}.png")
        image.convert(mode).save(paths[-1])  # grayscale and RGBA lines are converted to the model's channels
    return paths


def read(cwd, model, images, *options):
    result = run([str(BIN / "lightocr"), "read", "--ckpt", str(model), *options, *map(str, images)], cwd, here=True)
    return [line.split("\t") for line in result.stdout.strip().split("\n")]


def test_export_then_read_with_both_engines_gives_the_same_text(tmp_path):
    fit(tmp_path, "--trainer.max_steps=12", "--trainer.limit_val_batches=0", train=[synthetic(64, 0, max_length=4)],
        here=True)
    last = tmp_path / "runs/crnn_mobilenetv3/version_0/checkpoints/last.ckpt"
    out = tmp_path / "crnn.onnx"
    exported = run([str(BIN / "lightocr"), "export", "--ckpt", str(last), "--out", str(out), "--int8"], tmp_path,
                   here=True)
    assert out.is_file() and (tmp_path / "crnn.int8.onnx").is_file(), exported.stdout
    images = write_lines(tmp_path, [("ab12", "RGB"), ("x7", "L"), ("hello", "RGBA"), ("q", "RGB"), ("2024", "L")])
    plain = read(tmp_path, last, images, "--no-optimize", "--batch-size=5")
    optimized = read(tmp_path, last, images, "--batch-size=5")  # BatchNorm folded, channels_last
    onnx_file = read(tmp_path, out, images, "--batch-size=5")
    onnx_memory = read(tmp_path, last, images, "--engine", "onnxruntime", "--batch-size=2")
    int8 = read(tmp_path, tmp_path / "crnn.int8.onnx", images)
    assert [r[0] for r in plain] == list(map(str, images))
    for rows in (optimized, onnx_file, onnx_memory):
        assert [r[:2] for r in rows] == [r[:2] for r in plain]
        assert [float(r[2]) for r in rows] == pytest.approx([float(r[2]) for r in plain], abs=2e-4)
    assert len(int8) == len(images)  # its text may differ: the accuracy change is measured by the benchmark


def test_classification_export_and_classify_with_both_engines(tmp_path, shapes_folder):
    classify_fit(tmp_path, "cls_mobilenetv3.yaml", shapes_folder, "--trainer.max_steps=4",
                 "--trainer.limit_val_batches=0", here=True)
    last = tmp_path / "runs/cls_mobilenetv3/version_0/checkpoints/last.ckpt"
    run([str(BIN / "lightocr"), "export", "--ckpt", str(last), "--out", str(tmp_path / "cls.onnx")], tmp_path,
        here=True)
    images = [str(p) for p in sorted(shapes_folder.rglob("*.png"))[:4]]
    torch_rows = run([str(BIN / "lightocr"), "classify", "--ckpt", str(last), *images], tmp_path,
                     here=True).stdout.split("\n")
    onnx_rows = run([str(BIN / "lightocr"), "classify", "--ckpt", str(tmp_path / "cls.onnx"), *images],
                    tmp_path, here=True).stdout.split("\n")
    assert [r.split("\t")[:2] for r in onnx_rows] == [r.split("\t")[:2] for r in torch_rows]
    # a classification model is not read as text, and the reverse
    refused = run([str(BIN / "lightocr"), "read", "--ckpt", str(tmp_path / "cls.onnx"), images[0]], tmp_path,
                  check=False, here=True)
    assert refused.returncode != 0 and "image-classification model, not a text-recognition one" in refused.stderr


@pytest.fixture
def exported_line_model(tmp_path):
    from lightocr.export import export_task
    from lightocr.tasks import TextRecognitionTask
    task = TextRecognitionTask(charset=list("abc"), neck_kwargs=dict(hidden_size=8))
    return export_task(task, tmp_path / "model.onnx")


def test_an_onnx_file_without_lightocr_metadata_is_named(tmp_path, exported_line_model):
    image = write_lines(tmp_path, [("ab", "RGB")])[0]
    model = onnx.load(str(exported_line_model))
    charset = [p for p in model.metadata_props if p.key == "lightocr.charset"]
    model.metadata_props.remove(charset[0])
    onnx.save(model, str(tmp_path / "no_charset.onnx"))
    with pytest.raises(ModelFileError, match="lacks the lightocr metadata lightocr.charset"):
        read_main(["--ckpt", str(tmp_path / "no_charset.onnx"), str(image)])
    del model.metadata_props[:]
    onnx.save(model, str(tmp_path / "bare.onnx"))
    with pytest.raises(ModelFileError, match="has no lightocr metadata .*lightocr.task"):
        read_main(["--ckpt", str(tmp_path / "bare.onnx"), str(image)])
    with pytest.raises(ModelFileError, match="ONNX file not found"):
        read_main(["--ckpt", str(tmp_path / "none.onnx"), str(image)])
    with pytest.raises(ConfigError, match="exported ONNX file: read it with --engine onnxruntime"):
        read_main(["--ckpt", str(exported_line_model), "--engine", "torch", str(image)])


def test_an_opset_onnxruntime_cannot_run_names_both_versions(tmp_path, exported_line_model):
    import onnxruntime
    image = write_lines(tmp_path, [("ab", "RGB")])[0]
    model = onnx.load(str(exported_line_model))
    next(o for o in model.opset_import if o.domain in ("", "ai.onnx")).version = 99
    onnx.save(model, str(tmp_path / "future.onnx"))
    with pytest.raises(ModelFileError, match=rf"needs ONNX opset 99, which onnxruntime {onnxruntime.__version__} cannot"):
        read_main(["--ckpt", str(tmp_path / "future.onnx"), str(image)])


def test_onnxruntime_engine_without_onnxruntime_names_the_extra(tmp_path, exported_line_model, monkeypatch):
    image = write_lines(tmp_path, [("ab", "RGB")])[0]
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(MissingPackageError, match=r'needs the onnxruntime package: pip install "lightocr\[onnx\]"'):
        read_main(["--ckpt", str(exported_line_model), str(image)])


def test_metadata_values_are_json(exported_line_model):
    values = {p.key: p.value for p in onnx.load(str(exported_line_model)).metadata_props}
    assert json.loads(values["lightocr.charset"]) == ["a", "b", "c"]
    assert json.loads(values["lightocr.task"]) == "text-recognition"


def test_python_reader_takes_paths_arrays_and_pil_images_in_order(tmp_path, exported_line_model):
    import lightocr
    path = write_lines(tmp_path, [("abc", "RGB")])[0]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    pil = Image.open(path)
    reader = lightocr.Reader(exported_line_model)
    rows = reader([str(path), np.asarray(pil.convert("RGB")), pil, str(broken), np.asarray(pil.convert("L"))])
    assert [r["key"] for r in rows] == [str(path), "image[1]", "image[2]", str(broken), "image[4]"]
    assert [r["error"] is None for r in rows] == [True, True, True, False, True]
    assert "cannot" in rows[3]["error"] and rows[3]["text"] is None  # why it was not read
    texts = {r["text"] for i, r in enumerate(rows) if i != 3}
    assert len(texts) == 1  # the same line read from a file, an array, a PIL image, and in grayscale
    assert reader(str(path))[0]["text"] == rows[0]["text"]


def test_reading_an_exported_file_loads_neither_torch_nor_lightning(tmp_path, exported_line_model):
    image = write_lines(tmp_path, [("ab", "RGB")])[0]
    program = (
        "import sys\n"
        "import lightocr\n"
        f"rows = lightocr.Reader({str(exported_line_model)!r})([{str(image)!r}])\n"
        "from lightocr.cli import lightocr_main\n"
        "try:\n"
        f"    lightocr_main(['read', '--ckpt', {str(exported_line_model)!r}, {str(image)!r}])\n"
        "except SystemExit as stop:\n"
        "    assert stop.code == 0, stop.code\n"
        "heavy = ('torch', 'lightning', 'torchmetrics', 'timm', 'albumentations')\n"
        "print('loaded:', sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "loaded: []" in result.stdout, result.stdout


def test_no_system_exit_outside_the_command_line_mains():
    import ast
    from .test_cli import ROOT
    found = []
    for path in sorted((ROOT / "lightocr").rglob("*.py")):
        if path.name == "cli.py" and path.parent.name == "lightocr":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            named = node.func if isinstance(node, ast.Call) else node.exc if isinstance(node, ast.Raise) else None
            name = ast.unparse(named) if named is not None else ""
            if name in ("sys.exit", "exit", "quit") or "SystemExit" in name:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
