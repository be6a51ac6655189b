"""Each data source on small fixtures, with the skip-or-raise policy for bad samples."""
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lightocr.data import (BadSampleError, LabelFileSource, LineCollator, LineGeometry, LmdbSource, MixedSource,
                           SkippedSample, SyntheticTextSource, TextLineDataset, TextRecognitionDataModule, find_fonts,
                           resize_line)
from lightocr.data.synthetic import draw_text_mask
from lightocr.errors import ConfigError
from lightocr.ocr import Charset

ALNUM = Charset.from_spec("alnum36")


def items(dataset):
    return [dataset[i] for i in range(len(dataset))]


def test_label_file_source_skips_and_names_bad_samples(label_folder):
    with pytest.warns(UserWarning, match="1 lines without a TAB"):
        source = LabelFileSource(str(label_folder / "labels.txt"))
    assert len(source) == 8
    samples = items(TextLineDataset(source, ALNUM))
    good = [s for s in samples if not isinstance(s, SkippedSample)]
    skipped = {s.kind: s for s in samples if isinstance(s, SkippedSample)}
    assert [s["label"] for s in good] == ["hello", "world42", "gray"]
    bad = [s for s in samples if isinstance(s, SkippedSample)]
    assert sorted(s.kind for s in bad) == ["empty_label", "image", "image", "image", "unknown_symbols"]
    messages = " ".join(f"{s.key}: {s.reason}" for s in bad)
    assert "corrupt.png: cannot decode image" in messages
    assert "missing.png: image file not found" in messages
    assert "truncated.png" in messages
    assert "'é'" in skipped["unknown_symbols"].reason and skipped["unknown_symbols"].key.endswith("accent.png")
    assert all(s["image"].shape[:2] == (3, 32) for s in good)


def test_raise_policy_names_the_sample(label_folder):
    with pytest.warns(UserWarning):
        source = LabelFileSource(str(label_folder / "labels.txt"))
    dataset = TextLineDataset(source, ALNUM, on_error="raise")
    with pytest.raises(BadSampleError, match="corrupt.png"):
        items(dataset)


def test_lmdb_source(lmdb_path):
    source = LmdbSource(str(lmdb_path))
    assert len(source) == 4
    samples = items(TextLineDataset(source, Charset.from_spec("alnum62")))
    assert [s["label"] for s in samples if isinstance(s, dict)] == ["abc", "Lmdb7", "z"]
    bad = [s for s in samples if isinstance(s, SkippedSample)]
    assert len(bad) == 1 and bad[0].key.endswith("image-000000003") and "cannot decode image" in bad[0].reason


def test_missing_and_empty_sources_fail_before_training(tmp_path):
    with pytest.raises(FileNotFoundError, match="LMDB not found: .*nowhere"):
        LmdbSource(str(tmp_path / "nowhere"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="empty"):
        TextLineDataset(LabelFileSource(str(tmp_path / "empty.txt")), ALNUM)
    with pytest.raises(FileNotFoundError, match="label file not found"):
        LabelFileSource(str(tmp_path / "none.txt"))


def test_mixed_source_follows_ratios_and_draws_fresh_samples_each_epoch(label_folder, lmdb_path):
    with pytest.warns(UserWarning):
        labels = LabelFileSource(str(label_folder / "labels.txt"), ratio=3)
    lmdb_source = LmdbSource(str(lmdb_path), ratio=1)
    mixed = MixedSource([labels, lmdb_source], size=12, seed=1)  # 8 label lines and 4 records, 9 and 3 an epoch
    draws = {epoch: [mixed.locate(i, epoch) for i in range(12)] for epoch in range(4)}
    for epoch, pairs in draws.items():
        assert sum(k == 0 for k, _ in pairs) == 9
    # each source is walked whole before any sample repeats, across epochs
    label_draws = [inner for epoch in range(4) for k, inner in draws[epoch] if k == 0]
    assert sorted(label_draws[:8]) == list(range(8)) and sorted(label_draws[8:16]) == list(range(8))
    lmdb_draws = [inner for epoch in range(4) for k, inner in draws[epoch] if k == 1]
    assert [sorted(lmdb_draws[i:i + 4]) for i in (0, 4, 8)] == [[0, 1, 2, 3]] * 3
    assert draws[0] != draws[1]  # another epoch, other samples
    assert MixedSource([labels, lmdb_source], size=12, seed=1).locate(3, 2) == draws[2][3]  # reproducible
    # nothing is stored per sample
    assert len(pickle.dumps(MixedSource([labels, lmdb_source], size=10_000_000))) < len(pickle.dumps(mixed)) + 16


def test_synthetic_is_deterministic_per_index_seed_and_epoch():
    a = SyntheticTextSource(size=50, seed=3, font_dirs=[])
    b = SyntheticTextSource(size=50, seed=3, font_dirs=[])
    c = SyntheticTextSource(size=50, seed=4, font_dirs=[])
    first, again = a.load(7), b.load(7)
    assert first[1] == again[1] and np.array_equal(np.asarray(first[0]), np.asarray(again[0]))
    assert [a.load(i)[1] for i in range(20)] != [c.load(i)[1] for i in range(20)]
    assert [a.load(i, epoch=1)[1] for i in range(20)] != [a.load(i)[1] for i in range(20)]
    labels = [a.load(i)[1] for i in range(50)]
    assert len(set(labels)) > 45  # different indices, different lines
    assert all(1 <= len(t) <= 12 for t in labels)


def test_synthetic_fonts_are_configurable(tmp_path):
    with pytest.raises(ConfigError, match="no font found"):
        SyntheticTextSource(font_dirs=[str(tmp_path)], builtin_font=False, hershey_fonts=False)
    only_builtin = SyntheticTextSource(size=5, font_dirs=[str(tmp_path)], hershey_fonts=False)
    assert only_builtin.font_pool.fonts == ["builtin"]
    hershey = SyntheticTextSource(size=5, font_dirs=[str(tmp_path)], builtin_font=False, font_exclude=["*italic"])
    assert hershey.font_pool.fonts == ["hershey_simplex", "hershey_plain", "hershey_duplex", "hershey_complex",
                             "hershey_triplex", "hershey_complex_small"]


def ink_columns(image):
    """Columns of a rendered line that differ from its background colour (the corner pixel)."""
    pixels = np.asarray(image.convert("L"), dtype=np.int16)
    return np.flatnonzero((np.abs(pixels - pixels[0, 0]) > 60).any(axis=0))


def test_lines_are_cropped_around_their_ink_whatever_the_font_metrics():
    """STIX declares a line height 1.3 times DejaVu's for the same size: the crop follows the ink (or the
    font's cap-to-descender box), so that a font's declared metrics do not shrink its letters in the line."""
    def ink_share(font):  # median share of a line's height that its ink spans, and the ink's horizontal margins
        source = SyntheticTextSource(size=40, seed=3, font_include=[font], lexicon_ratio=1.0, number_ratio=0.0,
                                     font_size=(30, 30))
        shares = []
        for index in range(40):
            image, text, _ = source.load(index)
            columns = ink_columns(image)
            assert columns[0] <= image.height // 2 + 1 and image.width - 1 - columns[-1] <= image.height // 2 + 1
            rows = ink_columns(image.transpose(Image.Transpose.TRANSPOSE))
            shares.append((rows[-1] - rows[0] + 1) / image.height)
        return float(np.median(shares))

    reference = ink_share("DejaVuSans.ttf")
    for font in ("hershey_duplex", "STIXGeneral.ttf", "builtin", "cmr10.ttf"):
        assert 0.8 * reference <= ink_share(font) <= 1.25 * reference, font


def test_fontpkg_families_and_variable_weights_are_used():
    """The Google Fonts packages lightocr depends on are found by their entry points; a variable font draws
    lines at other weights (the ink of a bold instance covers more pixels than a light one)."""
    names = {Path(f).name for f in find_fonts()}
    assert {"PT_Serif-Web-Regular.ttf", "Roboto[wdth,wght].ttf", "Inconsolata[wdth,wght].ttf"} <= names

    def darkness_range(font):  # the same word at one size, whole: how much the ink per column varies
        darkness = []
        for seed in range(30):
            mask = draw_text_mask(find_fonts(include=[font])[0], 24, "oooooo", 0, np.random.default_rng(seed))[0]
            ink = np.asarray(mask) > 127
            darkness.append(ink.sum() / ink.any(axis=0).sum())
        return max(darkness) / min(darkness)

    assert darkness_range("PT_Serif-Web-Regular.ttf") == 1.0  # a static font: one weight
    assert darkness_range("Roboto[wdth,wght].ttf") > 1.5  # a variable font's file name names it as it is


@pytest.mark.parametrize("charset,allowed,needed", [
    ("digits", set("0123456789"), set("0123456789")),
    ("printable", set(Charset.from_spec("printable").symbols), set(" !,.") | set("ABC")),
    ("alnum62", set(Charset.from_spec("alnum62").symbols), set("abcABC")),
])
def test_default_synthetic_lines_follow_the_charset(charset, allowed, needed):
    data = TextRecognitionDataModule(charset=charset, num_workers=0)
    text = "".join(data.train_sources[0].load(i)[1] for i in range(400))
    assert set(text) <= allowed
    assert needed <= set(text)
    assert not any(line != line.strip() or "  " in line for line in
                   (data.train_sources[0].load(i)[1] for i in range(400)))


def test_dictionary_charset_renders_its_own_symbols(tmp_path):
    symbols = "αβγδεζηθ"  # Greek: the machine's DejaVu fonts have it
    (tmp_path / "dict.txt").write_text("\n".join(symbols), encoding="utf-8")
    data = TextRecognitionDataModule(charset=str(tmp_path / "dict.txt"), num_workers=0)
    text = "".join(data.train_sources[0].load(i)[1] for i in range(50))
    assert set(text) == set(symbols)


def test_a_charset_no_font_covers_is_named_before_training(tmp_path):
    (tmp_path / "dict.txt").write_text("\n".join("ab甲乙"), encoding="utf-8")
    with pytest.raises(ConfigError, match="no font of synthetic text .* has the symbols '乙甲'"):
        TextRecognitionDataModule(charset=str(tmp_path / "dict.txt"), num_workers=0)


def test_a_font_without_a_glyph_of_the_line_is_never_used():
    source = SyntheticTextSource(size=10, font_include=["builtin", "DejaVuSans.ttf"])
    assert len(source.font_pool) == 2
    assert [Path(f).name for f in source.font_pool.fonts_for("ab é")] == ["DejaVuSans.ttf"]  # builtin: ASCII only
    assert len(source.font_pool.fonts_for("ab 12")) == 2


def test_unreadable_fonts_are_skipped_with_one_warning(tmp_path):
    fonts = tmp_path / "fonts"
    fonts.mkdir()
    (fonts / "broken.ttf").write_bytes(b"not a font")
    (fonts / "also-broken.otf").write_bytes(b"\x00\x01\x00\x00 truncated")
    real = next(f for f in find_fonts() if f.endswith("DejaVuSans.ttf"))
    (fonts / "DejaVuSans.ttf").write_bytes(Path(real).read_bytes())
    with pytest.warns(UserWarning, match=r"skipped 2 font file\(s\) that cannot be used: .*broken"):
        source = SyntheticTextSource(size=4, font_dirs=[str(fonts)], builtin_font=False, hershey_fonts=False)
    assert [Path(f).name for f in source.font_pool.fonts] == ["DejaVuSans.ttf"]
    (fonts / "DejaVuSans.ttf").unlink()
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no usable font"):
        SyntheticTextSource(size=4, font_dirs=[str(fonts)], builtin_font=False, hershey_fonts=False)


def test_fonts_that_packages_ship_are_found():
    names = {Path(f).name for f in find_fonts()}
    assert {"STIXGeneral.ttf", "cmr10.ttf", "cmtt10.ttf"} <= names  # matplotlib's
    assert not names & {"LastResortHE-Regular.ttf", "cmex10.ttf", "cmsy10.ttf"}  # glyphs that are not text


def test_resize_keeps_aspect_and_squeezes_wide_lines():
    assert resize_line(Image.new("RGB", (100, 50)), 32, 320).shape == (3, 32, 64)
    # a line 50 times wider than high is squeezed to max_width
    assert resize_line(Image.new("L", (2000, 40)), 32, 320, channels=1).shape == (1, 32, 320)
    # grayscale into an RGB model and the reverse
    assert resize_line(Image.new("L", (64, 32)), 32, 320, channels=3).shape == (3, 32, 64)
    assert resize_line(Image.new("RGB", (64, 32)), 32, 320, channels=1).shape == (1, 32, 64)
    image = resize_line(Image.new("RGB", (10, 32), "white"), 32, 320)
    assert image.min() == image.max() == 1.0


def test_collator_pads_and_reports_skips():
    samples = [dict(image=torch.ones(3, 32, 40), label="ab", key="k1"), SkippedSample("k2", "image", "broken"),
               dict(image=torch.ones(3, 32, 21), label="c", key="k3")]
    batch = LineCollator(LineGeometry(pad_to="batch"))(samples)
    assert batch["images"].shape == (2, 3, 32, 40)
    assert batch["widths"].tolist() == [40, 21]
    assert batch["images"][1, :, :, 21:].abs().sum() == 0
    assert batch["skipped"][0].key == "k2"
    assert LineCollator(LineGeometry(pad_to="max", max_width=320))(samples)["images"].shape[-1] == 320
    empty = LineCollator()([SkippedSample("k", "image", "x")])
    assert empty["labels"] == [] and len(empty["skipped"]) == 1


def test_lines_of_real_words_in_real_case_patterns():
    import wordfreq
    known = set(wordfreq.top_n_list("en", 50_000))
    source = SyntheticTextSource(size=300, seed=0, lexicon_ratio=1.0, number_ratio=0.0, font_dirs=[])
    alnum62 = Charset.from_spec("alnum62")
    source.use_charset(alnum62.symbols, alnum62.case_sensitive)
    lines = [source.load(i)[1] for i in range(300)]
    words = [w for line in lines for w in line.split()]
    assert sum(w.lower() in known for w in words) / len(words) > 0.95
    assert any(a == b for line in lines for a, b in zip(line, line[1:]))  # doubled letters, as real words have
    patterns = {("upper" if w.isupper() else "title" if w.istitle() else "lower" if w.islower() else "mixed")
                for w in words if len(w) > 1}
    assert {"upper", "title", "lower"} <= patterns


def test_numbers_in_real_forms_follow_the_charset():
    source = SyntheticTextSource(size=200, seed=0, lexicon_ratio=0.0, number_ratio=1.0, font_dirs=[])
    printable = Charset.from_spec("printable")
    source.use_charset(printable.symbols, printable.case_sensitive)
    lines = [source.load(i)[1] for i in range(200)]
    import re
    assert any(re.fullmatch(r"(19|20)\d\d", t) for t in lines)  # years
    assert any(re.fullmatch(r"\$?\d+\.\d\d", t) for t in lines)  # amounts and prices
    assert any(re.fullmatch(r"\d\d/\d\d/\d{4}", t) for t in lines)  # dates
    digits = SyntheticTextSource(size=50, seed=0, lexicon_ratio=0.0, number_ratio=1.0, font_dirs=[])
    digits.use_charset(list("0123456789"), True)
    assert all(t.isdigit() for t in (digits.load(i)[1] for i in range(50)))


def test_lexicon_file_missing_or_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match="lexicon file not found"):
        SyntheticTextSource(size=4, lexicon=str(tmp_path / "none.txt"), font_dirs=[])
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(ValueError, match="has no words"):
        SyntheticTextSource(size=4, lexicon=str(tmp_path / "empty.txt"), font_dirs=[])
    (tmp_path / "mine.txt").write_text("zebra\nquokka\n")
    source = SyntheticTextSource(size=40, seed=1, lexicon=str(tmp_path / "mine.txt"), lexicon_ratio=1.0,
                                 number_ratio=0.0, font_dirs=[])
    assert {source.load(i)[1].lower() for i in range(40)} <= {"zebra", "quokka", "zebra quokka", "quokka zebra",
                                                             "zebra zebra", "quokka quokka"}


def test_augmentation_steps_from_yaml():
    steps = [dict(transform="Morphological", scale=[2, 2], operation="erosion", p=1.0),
             dict(transform="OneOf", transforms=[dict(transform="GaussianBlur"), dict(transform="MotionBlur")])]
    data = TextRecognitionDataModule(augment=steps, num_workers=0)
    augment = data._dataset(data.train_sources, data.augment).augment
    assert [type(t).__name__ for t in augment.transforms] == ["Morphological", "OneOf"]
    with pytest.raises(ValueError, match="unknown albumentations transform 'Blurr'"):  # when the module is built
        TextRecognitionDataModule(augment=[dict(transform="Blurr")], num_workers=0)
