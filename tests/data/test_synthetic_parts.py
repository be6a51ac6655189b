"""Synthetic data as parts (a text sampler, a font pool, a renderer): the same seeds give the same lines and
glyphs as before the split. The expected texts and pixel digests were recorded with the code of commit b656cd2
(``SyntheticTextSource`` and ``GlyphSource`` as one class each), on Pillow's built-in and OpenCV's Hershey fonts
(``font_dirs=[]``), so that no system font changes them."""
import hashlib

import numpy as np
import pytest

from lightocr.data import GlyphSource, SyntheticTextSource
from lightocr.data.samples import SourceDataset
from lightocr.data.sources import Region, SampleSource
from lightocr.data.synthetic import FontPool, LineRenderer, TextSampler, font_family
from lightocr.errors import ConfigError

BEFORE = {
    "lines": (["fl", "sozen", "KAKUNIWACE", "lygabovo", "RULID", "witnessed", "58", "fourteenth", "Holly", "D12",
               "culprit", "ytmoxs8", "fohajecyj", "imessage", "carrie", "of", "4cb86ekyj1a", "hundred", "emergent",
               "deposition", "kqy", "voluntarily", "jupe", "u232a9k"], "073f3e5c4e4940de"),
    "charset": (["tybejokab", "857.67", "212", "2015", "rl", "r", "2028", "6", "738", "CU674", "1989", "F0KLI3"],
                "44253479d3372211"),
    "glyphs": (["p", "n", "H", "d", "D", "O", "G", "M", "J", "c"], "02d25ddd76f6adc9"),
}


def drawn(source, count, epoch=0):
    digest, texts = hashlib.sha256(), []
    for index in range(count):
        image, text, _ = source.load(index, epoch)
        digest.update(image.tobytes())
        digest.update(repr(image.size).encode())
        texts.append(text)
    return texts, digest.hexdigest()[:16]


def test_the_same_seeds_give_the_same_lines_as_before_the_split():
    assert drawn(SyntheticTextSource(size=24, seed=3, font_dirs=[]), 24, epoch=1) == BEFORE["lines"]
    following = SyntheticTextSource(size=12, seed=5, font_dirs=[], lexicon=None)
    following.use_charset(list("0123456789abcdefghijklmnopqrstuvwxyz ."), False)
    assert drawn(following, 12) == BEFORE["charset"]
    assert drawn(GlyphSource(size=10, seed=7, font_dirs=[]), 10) == BEFORE["glyphs"]


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
