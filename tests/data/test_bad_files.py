"""Real files that used to be read wrongly or crash a loader: 16-bit and float images, EXIF orientation, a BOM or
another encoding in a label file, an augmentation that fails on one sample, images too large to decode."""
import struct
import zlib

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer
from PIL import Image

from lightocr.checkpoints import LastCheckpoint
from lightocr.data import (BadSampleError, ClassificationDataModule, ImageFolderSource, LabelFileSource,
                           LineGeometry, SkippedSample, TextLineDataset)
from lightocr.errors import DataError
from lightocr.ocr.charset import Charset, read_dictionary
from lightocr.tasks import ImageClassificationTask
from .conftest import line_image

CHARSET = Charset.from_spec("alnum62")


def lines_of(root, entries, **kwargs):
    (root / "labels.txt").write_text("".join(f"{path}\t{label}\n" for path, label in entries), encoding="utf-8")
    return TextLineDataset(LabelFileSource(str(root / "labels.txt")), CHARSET, LineGeometry(channels=1), **kwargs)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` pixels (no pixel data: decoding would fail)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_16_bit_and_float_images_read_as_their_8_bit_original(tmp_path):
    reference = line_image("Hello", mode="L")
    pixels = np.asarray(reference)
    reference.save(tmp_path / "eight.png")
    Image.fromarray(pixels.astype(np.uint16) * 257).save(tmp_path / "sixteen.png")
    Image.fromarray(pixels.astype(np.float32) / 255).save(tmp_path / "unit.tif")
    Image.fromarray(pixels.astype(np.float32) * 4.0 - 100).save(tmp_path / "wide.tif")  # any range: stretched
    assert Image.open(tmp_path / "sixteen.png").mode.startswith("I")
    assert Image.open(tmp_path / "unit.tif").mode == "F"
    data = lines_of(tmp_path, [(name, "Hello") for name in ("eight.png", "sixteen.png", "unit.tif", "wide.tif")])
    expected = data[0]["image"]
    assert expected.min() < -0.9 and expected.max() > 0.9  # black text on white
    for index in (1, 2, 3):
        sample = data[index]
        assert not isinstance(sample, SkippedSample), sample
        torch.testing.assert_close(sample["image"], expected, atol=2.5 / 255, rtol=0)


def test_exif_orientation_is_applied(tmp_path):
    reference = line_image("Upright", mode="L")
    reference.save(tmp_path / "upright.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": the camera stored it turned the other way
    reference.rotate(90, expand=True).save(tmp_path / "turned.png", exif=exif)
    data = lines_of(tmp_path, [("upright.png", "Upright"), ("turned.png", "Upright")])
    torch.testing.assert_close(data[1]["image"], data[0]["image"], atol=0, rtol=0)


def test_a_bom_is_dropped_from_label_and_charset_files(tmp_path):
    line_image("first").save(tmp_path / "a.png")
    line_image("second").save(tmp_path / "b.png")
    (tmp_path / "labels.txt").write_bytes("\ufeffa.png\tfirst\nb.png\tsecond\n".encode("utf-8"))
    source = LabelFileSource(str(tmp_path / "labels.txt"))
    assert source.entries == [("a.png", 1, "first"), ("b.png", 2, "second")]  # (path, line, label)
    assert source.load(0)[1] == "first"
    (tmp_path / "dict.txt").write_bytes("\ufeffa\nb\n".encode("utf-8"))
    assert read_dictionary(tmp_path / "dict.txt") == ["a", "b"]


def test_a_label_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    (tmp_path / "labels.txt").write_bytes("a.png\tcafe\nb.png\tthe\nc.png\tcaf\u00e9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"label file .*labels.txt, line 3: not UTF-8 \(byte 0xe9 at column 10\)"):
        LabelFileSource(str(tmp_path / "labels.txt"))


def test_an_augmentation_that_fails_on_one_sample_skips_that_sample(tmp_path):
    import albumentations as A
    line_image("wide enough line").save(tmp_path / "wide.png")
    line_image("a").crop((0, 0, 12, 40)).save(tmp_path / "narrow.png")
    crop = A.Compose([A.RandomCrop(height=32, width=60)])  # wider than the narrow line: albumentations raises
    data = lines_of(tmp_path, [("wide.png", "wide"), ("narrow.png", "a")], augment=crop)
    assert not isinstance(data[0], SkippedSample)
    skipped = data[1]
    assert isinstance(skipped, SkippedSample) and skipped.kind == "transform"
    assert skipped.key.endswith("narrow.png") and "augmentation or conversion failed" in skipped.reason
    strict = lines_of(tmp_path, [("narrow.png", "a")], augment=crop, on_error="raise")
    with pytest.raises(BadSampleError, match="narrow.png: augmentation or conversion failed"):
        strict[0]


def test_images_over_the_pixel_limit_are_skipped_before_decoding(tmp_path):
    line_image("fine").save(tmp_path / "fine.png")
    (tmp_path / "bomb.png").write_bytes(png_header_only(100_000, 100_000))  # Pillow's own guard refuses it
    (tmp_path / "big.png").write_bytes(png_header_only(5_000, 3_000))  # no pixel data: decoding it would fail
    data = lines_of(tmp_path, [("fine.png", "fine"), ("bomb.png", "x"), ("big.png", "x")], max_pixels=10_000_000)
    assert not isinstance(data[0], SkippedSample)
    for index, words in ((1, "decompression bomb"), (2, "5000x3000 image (15,000,000 pixels) is over max_pixels")):
        skipped = data[index]
        assert isinstance(skipped, SkippedSample) and skipped.kind == "too_large", skipped
        assert words in skipped.reason


def test_bad_image_files_in_a_classification_run_are_counted_not_fatal(tmp_path):
    """Through the Trainer with a loader worker: a 16-bit PNG and a float TIFF are trained, a 20000x1 strip (5 GB
    once scaled to 224 by its shorter side) and a decompression bomb are skipped as too large, and a crop the small
    image cannot give as a failed transform; the run ends with the counts in its checkpoint."""
    root = tmp_path / "shapes"
    for kind in ("dark", "light"):
        (root / kind).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (40, 40), (20 + i, 20, 20) if kind == "dark" else (230, 230 - i, 230)).save(
                root / kind / f"{i}.png")
    Image.fromarray(np.full((40, 40), 5000, np.uint16)).save(root / "dark" / "sixteen.png")
    Image.fromarray(np.full((40, 40), 0.9, np.float32)).save(root / "light" / "float.tif")
    Image.new("RGB", (20_000, 1), "white").save(root / "light" / "strip.png")
    (root / "dark" / "bomb.png").write_bytes(png_header_only(100_000, 100_000))
    Image.new("RGB", (10, 10), "white").save(root / "light" / "tiny.png")
    data = ClassificationDataModule(
        train_source=ImageFolderSource(str(root)), val_source=ImageFolderSource(str(root)), backbone=
        "lo_mobilenetv3_small_050", batch_size=13, num_workers=1,
        train_transforms=[dict(transform="RandomCrop", height=32, width=32), dict(transform="Resize", height=224,
                                                                                   width=224)])
    task = ImageClassificationTask(classes=data.class_names, backbone="lo_mobilenetv3_small_050",
                                   input_settings=data.input_settings)
    trainer = Trainer(default_root_dir=tmp_path, accelerator="cpu", max_steps=1, limit_val_batches=0,
                      logger=False, enable_progress_bar=False, callbacks=[LastCheckpoint()])
    trainer.fit(task, datamodule=data)
    counts = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["skipped_samples"]
    assert counts["too_large"] == 2 and counts["transform"] == 1 and counts["image"] == 0
