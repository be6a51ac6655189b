"""Classification data on fixtures the tests make: an image folder and a label file with bad samples, glyphs,
input settings from the backbone, and the albumentations steps set as data."""
import numpy as np
import pytest
import torch

from lightocr.data import BadSampleError, ClassificationDataModule, GlyphSource, ImageFolderSource, LabelFileSource
from lightocr.data.classification import ClassificationDataset, build_pipeline, collate_images, default_eval_steps
from lightocr.errors import DataError

INPUT = dict(size=16, channels=3, mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25], crop_pct=1.0)


def test_image_folder_classes_and_bad_samples(shapes_folder):
    source = ImageFolderSource(str(shapes_folder))
    assert source.classes == ["circle", "square"] and len(source) == 13
    dataset = ClassificationDataset(source, source.classes, INPUT, build_pipeline(default_eval_steps(16, 1.0)))
    samples = [dataset[i] for i in range(len(dataset))]
    skipped = [s for s in samples if not isinstance(s, dict)]
    assert [(s.kind, s.key.endswith("corrupt.png")) for s in skipped] == [("image", True)]
    good = [s for s in samples if isinstance(s, dict)]
    assert all(s["image"].shape == (3, 16, 16) for s in good)  # grayscale and RGBA converted to RGB
    assert sorted(s["target"] for s in good) == [0] * 6 + [1] * 6
    batch = collate_images(samples)
    assert batch["images"].shape == (12, 3, 16, 16) and len(batch["skipped"]) == 1
    # normalized with the given mean and std: a white pixel is (1 - 0.5) / 0.25
    assert batch["images"].max().item() == pytest.approx(2.0)
    strict = ClassificationDataset(source, source.classes, INPUT, build_pipeline([]), on_error="raise")
    with pytest.raises(BadSampleError, match="corrupt.png"):
        [strict[i] for i in range(len(strict))]


def test_empty_class_folder_is_named(shapes_folder):
    (shapes_folder / "triangle").mkdir()
    with pytest.raises(DataError, match=r"class folder .*triangle holds no image"):
        ImageFolderSource(str(shapes_folder))


def test_label_file_class_outside_the_list_is_named(shapes_folder):
    labels = shapes_folder / "labels.txt"
    labels.write_text("circle/0.png\tcircle\nsquare/0.png\tsquare\nsquare/1.png\thexagon\n")
    source = LabelFileSource(str(labels))
    data = ClassificationDataModule(train_source=source, val_source=source, test_source=source,
                                    classes=["circle", "square"], input_size=16)
    dataset = data.dataset(source, data.eval_steps)
    bad = dataset[2]
    assert bad.kind == "unknown_class" and bad.key.endswith("square/1.png") and "'hexagon'" in bad.reason
    # without a class list, the label file's own sorted labels
    assert ClassificationDataModule(train_source=source, val_source=source).class_names == [
        "circle", "hexagon", "square"]


def test_input_settings_from_the_backbone_unless_set():
    data = ClassificationDataModule(backbone="lo_xception")
    assert data.input_config["size"] == 299 and data.input_config["mean"] == [0.5, 0.5, 0.5]
    assert data.input_config["crop_pct"] == pytest.approx(0.8975)
    data = ClassificationDataModule(backbone="lo_xception", input_size=64, mean=[0.1, 0.2, 0.3])
    assert data.input_config["size"] == 64 and data.input_config["mean"] == [0.1, 0.2, 0.3]
    assert data.input_settings["eval_transforms"][-1] == dict(transform="CenterCrop", height=64, width=64)


def test_pipeline_steps_are_checked_when_the_data_module_is_built():
    with pytest.raises(ValueError, match="unknown albumentations transform 'Flipp'"):
        ClassificationDataModule(train_transforms=[dict(transform="Flipp")])


def test_glyphs_are_square_single_characters_that_change_every_epoch():
    source = GlyphSource(size=50, seed=3, font_dirs=[])
    assert len(source.classes) == 62
    images = [source.load(i) for i in range(50)]
    assert all(len(label) == 1 and label in source.classes for _, label, _ in images)
    assert all(image.width == image.height for image, _, _ in images)
    assert [source.load(i, epoch=1)[1] for i in range(20)] != [label for _, label, _ in images[:20]]


def test_grayscale_input_uses_the_mean_of_the_channels_statistics(shapes_folder):
    source = ImageFolderSource(str(shapes_folder))
    dataset = ClassificationDataset(source, source.classes, dict(INPUT, channels=1), build_pipeline([]))
    image = dataset[0]["image"]
    assert image.shape == (1, 24, 24)
    white = (1 - 0.5) / 0.25
    assert torch.isclose(image.max(), torch.tensor(white)) and np.isclose(image.min().item(), (0 - 0.5) / 0.25)


def test_glyphs_keep_their_size_in_the_font_box():
    """A lower-case o fills less of its glyph image than an upper-case O (the font's cap-to-descender box frames
    both); cropped to their ink alone (font_box_ratio=0) they would fill it alike."""
    def ink_share(ratio):
        source = GlyphSource(size=60, seed=2, classes="oO", font_include=["DejaVuSans.ttf"], font_size=(30, 30),
                             font_box_ratio=ratio)
        shares = {"o": [], "O": []}
        for index in range(60):
            image, label, _ = source.load(index)
            pixels = np.asarray(image.convert("L"), dtype=np.int16)
            rows = np.flatnonzero((np.abs(pixels - pixels[0, 0]) > 60).any(axis=1))
            shares[label].append((rows[-1] - rows[0] + 1) / image.height)
        return np.median(shares["o"]) / np.median(shares["O"])

    assert ink_share(1.0) < 0.85
    assert ink_share(0.0) > 0.9
