"""Synthetic data as parts (a text sampler, a font pool, a renderer): the same seeds give the same lines and
glyphs as before the split. The expected values were recorded with the code of commit b656cd2 (``SyntheticTextSource``
and ``GlyphSource`` as one class each), on Pillow's built-in and OpenCV's Hershey fonts (``font_dirs=[]``), so that no
system font changes them: per line its text, its size (the font, size, spacing and margins drawn), its paper colour
and its ink colour. The pixels themselves are not pinned: they are the font rasterisers' and differ between
installations (a digest of them recorded on one machine did not hold on another with the same code)."""
import warnings

import numpy as np
import pytest

from lightocr.data import GlyphSource, SyntheticTextSource, synthetic
from lightocr.data.samples import SourceDataset
from lightocr.data.sources import Region, SampleSource
from lightocr.data.synthetic import FontPool, LineRenderer, TextSampler, font_family
from lightocr.errors import ConfigError

BEFORE = {
    "lines": [
        ("fl", (48, 33), (161, 19, 150), (222, 237, 252)), ("sozen", (146, 25), (201, 194, 73), (60, 78, 151)),
        ("KAKUNIWACE", (174, 33), (139, 9, 182), (230, 247, 216)),
        ("lygabovo", (141, 34), (142, 60, 87), (207, 226, 237)),
        ("RULID", (142, 35), (111, 67, 215), (213, 238, 223)),
        ("witnessed", (213, 40), (193, 206, 196), (10, 42, 11)), ("58", (51, 37), (152, 145, 69), (3, 42, 33)),
        ("fourteenth", (262, 50), (206, 132, 43), (22, 8, 43)), ("Holly", (136, 51), (217, 214, 24), (30, 39, 31)),
        ("D12", (89, 31), (251, 127, 132), (35, 0, 35)), ("culprit", (166, 48), (61, 125, 85), (212, 231, 223)),
        ("ytmoxs8", (154, 43), (72, 199, 130), (17, 31, 29)), ("fohajecyj", (121, 26), (183, 86, 232), (17, 25, 18)),
        ("imessage", (171, 42), (239, 119, 223), (72, 7, 57)), ("carrie", (161, 45), (162, 138, 21), (14, 2, 30)),
        ("of", (42, 47), (25, 200, 147), (3, 20, 21)), ("4cb86ekyj1a", (282, 38), (76, 228, 36), (22, 23, 189)),
        ("hundred", (191, 43), (16, 255, 159), (25, 37, 49)), ("emergent", (141, 28), (192, 1, 192), (213, 215, 254)),
        ("deposition", (162, 33), (131, 142, 21), (221, 251, 206)), ("kqy", (65, 32), (114, 229, 231), (3, 38, 29)),
        ("voluntarily", (297, 52), (112, 105, 29), (228, 253, 245)),
        ("jupe", (118, 48), (26, 5, 53), (253, 226, 246)), ("u232a9k", (134, 30), (237, 240, 98), (34, 21, 13)),
    ],
    "charset": [
        ("tybejokab", (129, 31), (45, 229, 204), (31, 24, 33)), ("857.67", (103, 33), (122, 174, 229), (17, 20, 17)),
        ("212", (57, 26), (21, 28, 146), (156, 238, 22)), ("2015", (85, 29), (34, 212, 240), (45, 31, 20)),
        ("rl", (53, 37), (93, 7, 36), (233, 211, 255)), ("r", (48, 39), (22, 49, 229), (243, 232, 205)),
        ("2028", (98, 27), (235, 221, 111), (44, 27, 20)), ("6", (41, 33), (49, 39, 165), (225, 242, 254)),
        ("738", (53, 34), (8, 106, 12), (224, 218, 202)), ("CU674", (134, 43), (24, 89, 61), (134, 251, 196)),
        ("1989", (60, 22), (1, 120, 164), (237, 222, 228)), ("F0KLI3", (89, 29), (234, 0, 111), (17, 241, 192)),
    ],
    "glyphs": [
        ("p", (27, 27), (204, 30, 119), (219, 238, 215)), ("n", (29, 29), (214, 193, 80), (253, 14, 114)),
        ("H", (37, 37), (150, 190, 160), (33, 18, 10)), ("d", (32, 32), (27, 196, 81), (6, 24, 31)),
        ("D", (32, 32), (171, 60, 109), (223, 205, 252)), ("O", (43, 43), (18, 69, 160), (223, 235, 224)),
        ("G", (24, 24), (82, 199, 197), (46, 11, 21)), ("M", (34, 34), (146, 208, 105), (5, 16, 8)),
        ("J", (29, 29), (153, 166, 89), (14, 32, 37)), ("c", (41, 41), (52, 53, 99), (231, 242, 247)),
    ],
}


def drawn(source, count, epoch=0):
    """Each line's text, size, paper colour (the corner, left of the ink's margin) and ink colour (the pixel
    farthest from the paper's)."""
    lines = []
    for index in range(count):
        image, text, _ = source.load(index, epoch)
        pixels = np.asarray(image.convert("RGB"), np.int32)
        paper = pixels[0, 0]
        ink = pixels.reshape(-1, 3)[np.abs(pixels - paper).sum(-1).argmax()]
        lines.append((text, image.size, tuple(int(v) for v in paper), tuple(int(v) for v in ink)))
    return lines


def test_the_same_seeds_give_the_same_lines_as_before_the_split():
    assert drawn(SyntheticTextSource(size=24, seed=3, font_dirs=[]), 24, epoch=1) == BEFORE["lines"]
    following = SyntheticTextSource(size=12, seed=5, font_dirs=[], lexicon=None)
    following.use_charset(list("0123456789abcdefghijklmnopqrstuvwxyz ."), False)
    assert drawn(following, 12) == BEFORE["charset"]
    assert drawn(GlyphSource(size=10, seed=7, font_dirs=[]), 10) == BEFORE["glyphs"]


def test_opencv_without_hershey_strokes_is_named(monkeypatch):
    monkeypatch.setattr(synthetic, "HERSHEY_STROKES", False)
    with pytest.warns(UserWarning, match=r"OpenCV .* has no Hershey stroke fonts.*opencv-python-headless<5"):
        FontPool(font_dirs=[])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FontPool(font_dirs=[], hershey_fonts=False)


def test_the_parts_work_on_their_own():
    fonts = FontPool(font_dirs=[])
    sampler = TextSampler(alphabet="0123456789", lexicon=None, fonts=fonts)
    renderer = LineRenderer(fonts, font_size=(20, 24))
    rng = np.random.default_rng(0)
    text = sampler.text(rng)
    image = renderer.render(text, rng)
    assert text.isdigit() and image.height > 10 and image.width > image.height // 2
    with pytest.raises(ConfigError, match="no font of .* has the symbols '甲'"):
        TextSampler(alphabet="ab甲", lexicon=None, fonts=fonts)
    assert not isinstance(GlyphSource(size=2, font_dirs=[]), SyntheticTextSource)  # composed, not inherited


def test_font_balance_draws_every_family_equally_often():
    # Pillow's built-in font is one file of its family, OpenCV's Hershey faces twelve files of one family
    names = ["DejaVuSerifCondensed-Bold.ttf", "Roboto-Italic[wdth,wght].ttf", "hershey_duplex_italic", "cmr10.ttf",
             "Lato-BlackItalic.ttf", "builtin"]
    assert [font_family(name) for name in names] == ["DejaVuSerif", "Roboto", "hershey", "cm", "Lato", "builtin"]
    shares = {}
    for balance in ("file", "family"):
        pool, rng = FontPool(font_dirs=[], balance=balance), np.random.default_rng(0)
        picks = [pool.pick("word", rng) for _ in range(2600)]
        shares[balance] = picks.count("builtin") / len(picks)
    assert len(FontPool(font_dirs=[])) == 13
    assert 0.05 < shares["file"] < 0.10 and 0.45 < shares["family"] < 0.55
    with pytest.raises(ConfigError, match="font balance must be one of .*'file', 'family'.*got 'fonts'"):
        SyntheticTextSource(size=2, font_dirs=[], font_balance="fonts")


class RegionSource(SampleSource):
    """A page whose label is its text regions, as a detection source gives them."""

    def __len__(self):
        return 1

    def load(self, index, epoch=0):
        from PIL import Image
        regions = [Region(((1, 1), (30, 1), (30, 9), (1, 9)), "hello")]
        return Image.new("RGB", (40, 12), "white"), regions, "page0"


def test_a_sample_label_can_be_regions():
    image, label, key, _, _ = SourceDataset(RegionSource(), require_label=False).load(0)
    assert key == "page0" and label[0].text == "hello" and label[0].polygon[2] == (30, 9)


def test_synthetic_pages_label_each_line_with_its_box_and_text():
    from lightocr.data.pages import LAYOUTS, SyntheticPageSource
    from lightocr.tasks.detection.targets import DBTargets
    for layout in LAYOUTS:
        source = SyntheticPageSource(size=3, seed=4, layouts=[layout], font_dirs=[])
        for index in range(3):
            image, regions, key = source.load(index)
            again, same_regions, _ = source.load(index)
            assert np.array_equal(np.asarray(image), np.asarray(again)) and regions == same_regions
            assert regions, (layout, index)
            width, height = image.size
            for region in regions:
                xs, ys = zip(*region.polygon)
                assert 0 <= min(xs) < max(xs) <= width and 0 <= min(ys) < max(ys) <= height and region.text.strip()
            # each labelled box holds ink: dark and light pixels side by side
            pixels = np.asarray(image.convert("L"), dtype=np.float32)
            for (x0, y0), _, (x1, y1), _ in (r.polygon for r in regions):
                crop = pixels[y0:y1, x0:x1]
                assert np.percentile(crop, 99) - np.percentile(crop, 1) > 40, (layout, index)
            targets = DBTargets()([np.array(r.polygon, np.float32) for r in regions], [False] * len(regions),
                                  height, width)
            assert targets["prob"].sum() > 0 or all(min(x1 - x0, y1 - y0) < 8 for (x0, y0), _, (x1, y1), _ in
                                                   (r.polygon for r in regions))
    other_epoch = SyntheticPageSource(size=3, seed=4, font_dirs=[]).load(0, epoch=1)[1]
    assert other_epoch != SyntheticPageSource(size=3, seed=4, font_dirs=[]).load(0)[1]


def test_faded_lines_are_paler_and_still_labelled():
    from lightocr.data.pages import SyntheticPageSource

    def contrasts(faded):
        source = SyntheticPageSource(size=4, seed=9, layouts=["paragraph"], backgrounds=["paper"], font_dirs=[],
                                     faded=faded)
        found = []
        for index in range(4):
            image, regions, _ = source.load(index)
            pixels = np.asarray(image.convert("L"), dtype=np.float32)
            found += [np.percentile(crop, 99) - np.percentile(crop, 1) for crop in
                      (pixels[y0:y1, x0:x1] for (x0, y0), _, (x1, y1), _ in (r.polygon for r in regions))]
        return np.array(found)

    plain, faded = contrasts(0.0), contrasts(1.0)
    assert len(faded) >= 8 and faded.min() > 15  # each labelled line still holds visible ink
    assert np.median(faded) < 0.75 * np.median(plain)
    with pytest.raises(ValueError, match="faded"):
        SyntheticPageSource(faded=1.5)


def test_word_regions_split_each_line_at_its_gaps():
    from lightocr.data.pages import SyntheticPageSource, word_spans
    inked = np.zeros((10, 40), bool)
    inked[2:8, 1:9] = inked[2:8, 10:12] = True  # "ab": a gap of one column inside the word
    inked[2:8, 18:25] = inked[2:8, 31:38] = True
    assert word_spans(inked, "ab cd ef", min_gap=3) == [(1, 12, "ab"), (18, 25, "cd"), (31, 38, "ef")]
    assert word_spans(inked, "ab cd", min_gap=3) == []  # three runs, two words: the line stays whole
    for layout in ("paragraph", "form"):
        lines = SyntheticPageSource(size=2, seed=6, layouts=[layout], font_dirs=[]).load(1)[1]
        words = SyntheticPageSource(size=2, seed=6, layouts=[layout], font_dirs=[], regions="words").load(1)[1]
        assert len(words) > len(lines)  # the same page, cut finer
        assert " ".join(r.text for r in words).split() == " ".join(r.text for r in lines).split()
        for word in words:  # each word inside one line's box
            (x0, y0), _, (x1, y1), _ = word.polygon
            assert any(lx0 <= x0 < x1 <= lx1 and ly0 <= y0 < y1 <= ly1
                       for (lx0, ly0), _, (lx1, ly1), _ in (line.polygon for line in lines))


def test_backgrounds_are_chosen_by_name():
    from lightocr.data.pages import BACKGROUNDS, SyntheticPageSource
    assert set(BACKGROUNDS) == {"paper", "gradient", "texture", "noise", "ruled", "speckle"}
    ruled = np.asarray(SyntheticPageSource(size=1, seed=2, backgrounds=["ruled"], layouts=["label"],
                                           font_dirs=[]).load(0)[0].convert("L"), dtype=np.float32)
    assert (np.abs(np.diff(ruled[:, :5].mean(1))) > 10).sum() >= 4  # rules across the margin, left of any text
    with pytest.raises(ValueError, match="backgrounds some of"):
        SyntheticPageSource(backgrounds=["photo"])


def test_lines_can_be_drawn_on_page_backgrounds():
    """A page reader's crops carry the page around their ink: lines drawn on noise have a varying margin (the
    first column, left of the ink), lines on one colour a constant one."""
    def margin_spread(backgrounds):
        source = SyntheticTextSource(size=12, seed=4, font_dirs=[], backgrounds=backgrounds)
        return [float(np.asarray(source.load(i)[0].convert("L"), np.float32)[:, 0].std()) for i in range(12)]

    assert max(margin_spread(["flat"])) == 0
    assert min(margin_spread(["noise"])) > 5
    mixed = margin_spread(["flat", "noise"])
    assert 0 < sum(spread == 0 for spread in mixed) < len(mixed)
    with pytest.raises(ValueError, match="backgrounds must be some of"):
        SyntheticTextSource(size=1, font_dirs=[], backgrounds=["photo"])
