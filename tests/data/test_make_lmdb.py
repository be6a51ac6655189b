import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from lightocr.data import LmdbSource

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_lmdb.py"


def test_label_files_to_lmdb_round_trip(label_folder, tmp_path):
    output = tmp_path / "out.lmdb"
    result = subprocess.run([sys.executable, str(SCRIPT), str(label_folder / "labels.txt"), str(output)],
                            capture_output=True, text=True, check=True)
    # the corrupt, truncated and missing images are left out and listed
    assert "3 skipped" in result.stdout and "corrupt.png" in result.stderr and "missing.png" in result.stderr
    lmdb_source = LmdbSource(str(output))
    assert len(lmdb_source) == 5
    labels = [lmdb_source.load(i)[1] for i in range(5)]
    assert labels == ["hello", "World42", "gray", "", "héllo"]
    # the original bytes are stored: the same pixels come back
    original = Image.open(label_folder / "img/hello.png")
    assert np.array_equal(np.asarray(lmdb_source.load(0)[0]), np.asarray(original))
