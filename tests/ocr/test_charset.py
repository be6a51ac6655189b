import pytest

from lightocr.ocr import Charset, UnknownSymbolError


def test_presets():
    alnum = Charset.from_spec("alnum36")
    assert len(alnum) == 36 and alnum.num_classes == 37
    assert not alnum.case_sensitive
    assert alnum.encode("Ab9") == [11, 12, 10]  # digits first, blank is 0
    assert Charset.from_spec("digits").symbols == list("0123456789")
    assert len(Charset.from_spec("printable")) == 95
    assert Charset.from_spec("alnum62").case_sensitive


def test_decode_round_trip():
    charset = Charset.from_spec("printable")
    assert charset.decode(charset.encode("Hello, World!")) == "Hello, World!"
    assert charset.decode([0, 0]) == ""


def test_dictionary_file_any_script(tmp_path):
    path = tmp_path / "dict.txt"
    path.write_text("中\n文\n字\n \né\n", encoding="utf-8")
    charset = Charset.from_spec(str(path))
    assert charset.symbols == ["中", "文", "字", " ", "é"]
    assert charset.encode("文 字") == [2, 4, 3]


def test_dictionary_errors(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("a\nbc\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt:2: one symbol per line"):
        Charset.from_spec(str(path))
    with pytest.raises(ValueError, match="neither a preset"):
        Charset.from_spec(str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="unique"):
        Charset("abca")


def test_case_insensitive_training():
    charset = Charset.from_spec("alnum36")
    assert charset.encode("HeLLo") == charset.encode("hello")
    sensitive = Charset.from_spec("alnum36", case_sensitive=True)
    with pytest.raises(UnknownSymbolError, match=r"outside the charset: \['H'\]"):
        sensitive.encode("Hi")
    with pytest.raises(ValueError, match="lowercase"):
        Charset("aB", case_sensitive=False)


def test_unknown_symbols_are_named():
    charset = Charset.from_spec("digits")
    assert charset.unknown("12a4b") == ["a", "b"]
    with pytest.raises(UnknownSymbolError, match=r"'12a4b'.*\['a', 'b'\]"):
        charset.encode("12a4b")
