import io

import lmdb
import pytest
from PIL import Image, ImageDraw, ImageFont


def line_image(text: str, mode: str = "RGB", height: int = 40) -> Image.Image:
    font = ImageFont.load_default(28)
    image = Image.new(mode, (int(font.getlength(text)) + 10, height), "white")
    ImageDraw.Draw(image).text((5, 4), text, font=font, fill="black")
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def label_folder(tmp_path):
    """A PaddleOCR-style folder: 3 good lines, a corrupt file, a missing file, an empty label, an unknown
    symbol, a truncated PNG, and one line without a TAB."""
    root = tmp_path / "lines"
    (root / "img").mkdir(parents=True)
    good = {"img/hello.png": "hello", "img/world.jpg": "World42", "img/gray.png": "gray"}
    line_image("hello").save(root / "img/hello.png")
    line_image("World42").save(root / "img/world.jpg")
    line_image("gray", mode="L").save(root / "img/gray.png")
    (root / "img/corrupt.png").write_bytes(b"this is not an image")
    (root / "img/truncated.png").write_bytes(png_bytes(line_image("truncated"))[:60])
    line_image("empty").save(root / "img/empty.png")
    line_image("héllo").save(root / "img/accent.png")
    lines = [f"{path}\t{label}" for path, label in good.items()] + [
        "img/corrupt.png\tcorrupt", "img/missing.png\tmissing", "img/empty.png\t", "img/accent.png\théllo",
        "img/truncated.png\ttruncated", "no tab on this line"]
    (root / "labels.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def lmdb_path(tmp_path):
    """An LMDB in the deep-text-recognition-benchmark format: 3 good records and a corrupt one (record 3)."""
    path = tmp_path / "data.lmdb"
    env = lmdb.open(str(path), map_size=2 ** 26)
    records = [png_bytes(line_image("abc")), png_bytes(line_image("Lmdb7")), b"corrupt", png_bytes(line_image("z"))]
    labels = ["abc", "Lmdb7", "bad", "z"]
    with env.begin(write=True) as txn:
        for number, (image, label) in enumerate(zip(records, labels), 1):
            txn.put(f"image-{number:09d}".encode(), image)
            txn.put(f"label-{number:09d}".encode(), label.encode())
        txn.put(b"num-samples", str(len(records)).encode())
    env.close()
    return path
