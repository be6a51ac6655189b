import pytest

from lightocr.ocr import CharErrorRate, NormalizedEditDistance, WordAccuracy
from lightocr.ocr.metrics import edit_distance


def test_edit_distance():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "abc") == 0


def test_word_accuracy_protocols():
    exact, bench = WordAccuracy("exact"), WordAccuracy("benchmark")
    predictions, labels = ["Hello", "world!", "abc", "x"], ["hello", "World", "abc", "y"]
    exact.update(predictions, labels)
    bench.update(predictions, labels)
    assert exact.compute().item() == pytest.approx(1 / 4)
    assert bench.compute().item() == pytest.approx(3 / 4)


def test_cer_and_ned_accumulate_over_batches():
    cer, ned = CharErrorRate(), NormalizedEditDistance()
    for metric in (cer, ned):
        metric.update(["kitten"], ["sitting"])
        metric.update(["abc"], ["abc"])
    assert cer.compute().item() == pytest.approx(3 / 10)
    assert ned.compute().item() == pytest.approx(((1 - 3 / 7) + 1) / 2)


def test_benchmark_protocol_keeps_other_scripts():
    # a Chinese charset: the 36-symbol reduction would empty both sides and score anything as right
    bench = WordAccuracy("benchmark", charset=list("中文识别测试"))
    bench.update(["中文", "识别", "Ab中"], ["中文", "测试", "ab中!"])
    assert bench.compute().item() == pytest.approx(2 / 3)
    # Latin charsets keep the benchmark's 36 symbols: case and punctuation fold away
    latin = WordAccuracy("benchmark", charset=list("abcdefghijklmnopqrstuvwxyz0123456789"))
    latin.update(["Cafe!", "cafe"], ["cafe", "x"])
    assert latin.compute().item() == pytest.approx(1 / 2)
