"""Detection label files as the public sets ship them, written to disk: ICDAR2015 (a text file per image, BOM,
``###``, commas in the text) and PaddleOCR's detection label file; bad lines named by file and line, counted, or
raised under on_error="raise"."""
import json

import numpy as np
import pytest
from PIL import Image

from lightocr.data.detection import PageDataset, collate_pages
from lightocr.data.page_inputs import PageGeometry
from lightocr.data.page_labels import Icdar2015Source, PaddleDetectionLabelSource
from lightocr.data.samples import BadSampleError

from .test_bad_files import png_header_only


def icdar_folder(tmp_path):
    """Two pages: ``img_1`` with a BOM, a don't-care region, a transcription with commas and two bad lines;
    ``img_2`` without a label file."""
    folder = tmp_path / "icdar"
    folder.mkdir()
    for name in ("img_1", "img_2"):
        Image.new("RGB", (120, 80), "white").save(folder / f"{name}.jpg")
    lines = ["10,10,60,10,60,30,10,30,Hello, world",
             "70,40,110,40,110,60,70,60,###",
             "5,5,20,5,20,15,words",  # six numbers
             "1,1,9,1,x,9,1,9,bad",  # a coordinate that is not a number
             "",
             "20,50,50,50,50,70,20,70,5"]  # the transcription may be a number
    (folder / "gt_img_1.txt").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    return folder


def test_icdar2015_files_with_bom_dont_care_and_bad_lines(tmp_path):
    folder = icdar_folder(tmp_path)
    source = Icdar2015Source(str(folder))
    assert len(source) == 2 and source.name == "icdar"
    image, regions, key = source.load(0)
    assert key == str(folder / "img_1.jpg") and image.size == (120, 80)
    assert [r.text for r in regions] == ["Hello, world", "###", "words", "bad", "5"]
    assert regions[0].polygon == ((10, 10), (60, 10), (60, 30), (10, 30))
    label = folder / "gt_img_1.txt"
    assert [r.origin for r in regions] == [f"{label}, line {n}" for n in (1, 2, 3, 4, 6)]
    assert regions[2].problem == "fewer than 8 numbers (6)"
    assert regions[3].problem == "a coordinate that is not a number ('x')"

    dataset = PageDataset(source, PageGeometry(size=64))
    batch = collate_pages([dataset[0], dataset[1]])
    assert batch["keys"] == [str(folder / "img_1.jpg")]  # img_2 has no label file
    skipped = {(s.kind, s.key): s.reason for s in batch["skipped"]}
    assert skipped == {
        ("bad_label", str(folder / "img_2.jpg")): f"no label file {folder / 'gt_img_2.txt'} for {folder / 'img_2.jpg'}",
        ("bad_region", f"{label}, line 3 ('words')"): "fewer than 8 numbers (6)",
        ("bad_region", f"{label}, line 4 ('bad')"): "a coordinate that is not a number ('x')"}
    assert [dont_care for _, dont_care in batch["regions"][0]] == [False, True, False]
    with pytest.raises(BadSampleError, match=r"gt_img_1.txt, line 3 \('words'\): fewer than 8 numbers"):
        PageDataset(source, PageGeometry(size=64), on_error="raise")[0]


def test_paddle_detection_label_file(tmp_path):
    for name in ("a", "b", "c"):
        Image.new("RGB", (100, 100), "white").save(tmp_path / f"{name}.png")
    good = [{"transcription": "Total", "points": [[10, 10], [50, 10], [50, 30], [10, 30]]},
            {"transcription": "*", "points": [[60, 60], [90, 60], [90, 80], [60, 80]]},
            {"transcription": "two", "points": [[1, 1], [5, 5]]},
            {"transcription": "odd", "points": "nowhere"}]
    label = tmp_path / "det_gt.txt"
    label.write_text("\n".join([f"a.png\t{json.dumps(good, ensure_ascii=False)}", "b.png\t[{\"points\": [[1, 2]",
                                "no tab here", "c.png\t[]"]) + "\n", encoding="utf-8-sig")
    with pytest.warns(UserWarning, match=r"1 lines without a TAB .*lines \[3\]"):
        source = PaddleDetectionLabelSource(str(label))
    assert len(source) == 3
    dataset = PageDataset(source, PageGeometry(size=64))
    batch = collate_pages([dataset[i] for i in range(3)])
    assert batch["keys"] == [str(tmp_path / "a.png"), str(tmp_path / "c.png")]  # c: a page without text
    kinds = sorted((s.kind, s.key) for s in batch["skipped"])
    assert kinds == [("bad_label", str(tmp_path / "b.png")), ("bad_region", f"{label}, line 1 ('odd')"),
                     ("bad_region", f"{label}, line 1 ('two')")]
    assert "line 2: the label is not JSON" in next(s.reason for s in batch["skipped"] if s.kind == "bad_label")
    assert [dont_care for _, dont_care in batch["regions"][0]] == [False, True]
    assert batch["prob"][1].sum() == 0 and np.all(batch["prob_mask"][1].numpy() == 1)
    with pytest.raises(BadSampleError, match=r"det_gt.txt, line 2: the label is not JSON"):
        PageDataset(source, PageGeometry(size=64), on_error="raise")[1]


def test_a_page_over_the_pixel_limit_is_refused_with_the_limit_named(tmp_path):
    """Both limits, from the header alone (never decoded): the data module's ``max_pixels``, and Pillow's
    decompression-bomb guard above it."""
    folder = tmp_path / "scans"
    folder.mkdir()
    (folder / "big.png").write_bytes(png_header_only(10_000, 5_000))
    (folder / "huge.png").write_bytes(png_header_only(20_000, 20_000))
    for name in ("big", "huge"):
        (folder / f"gt_{name}.txt").write_text("1,1,9,1,9,9,1,9,x")
    dataset = PageDataset(Icdar2015Source(str(folder)), PageGeometry(size=64))
    big, huge = dataset[0], dataset[1]
    assert big.kind == huge.kind == "too_large" and huge.key == str(folder / "huge.png")
    assert big.reason == "10000x5000 image (50,000,000 pixels) is over max_pixels=40,000,000"
    assert "exceeds limit of 178956970 pixels" in huge.reason
