import os

import pytest
import torch
from PIL import Image, ImageDraw

# Under pytest-xdist (the README runs the suite with -n auto), share the cores between the workers, in this
# process and in the lightning/lightocr processes the tests start, instead of every worker using all of them.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    _THREADS = str(max(1, (os.cpu_count() or 1) // _WORKERS))
    os.environ.setdefault("OMP_NUM_THREADS", _THREADS)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def shapes_folder(tmp_path):
    """circle/ and square/ folders of 24x24 images (a grayscale and an RGBA one among them) and a corrupt file."""
    root = tmp_path / "shapes"
    for kind in ("circle", "square"):
        (root / kind).mkdir(parents=True)
        for i in range(6):
            image = Image.new("RGBA" if i == 5 else "L" if i == 4 else "RGB", (24, 24), "white")
            draw = ImageDraw.Draw(image)
            (draw.ellipse if kind == "circle" else draw.rectangle)((3 + i % 3, 4, 20, 19 - i % 2), fill="black")
            image.save(root / kind / f"{i}.png")
    (root / "square" / "corrupt.png").write_bytes(b"not an image")
    return root
