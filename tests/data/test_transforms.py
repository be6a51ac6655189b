"""The seeded augmentation: each step of a pipeline decides apart from the others, and a seed repeats a sample."""
import numpy as np
from PIL import Image

from lightocr.data.detection import augment_page
from lightocr.data.transforms import augment_line, build_pipeline

# Two steps of p=0.5 on an image whose left half is black: either step alone turns its left edge white, both
# together or neither leave it black. Independent steps do exactly one of the two on half of the seeds; steps
# seeded alike (albumentations' set_random_seed) decide with one draw and never do exactly one.
STEPS = [dict(transform="HorizontalFlip", p=0.5), dict(transform="InvertImg", p=0.5)]
SEEDS = range(400)


def half_black() -> np.ndarray:
    pixels = np.full((8, 16, 3), 255, np.uint8)
    pixels[:, :8] = 0
    return pixels


def test_each_step_of_a_line_pipeline_decides_apart_from_the_others():
    augment, image = build_pipeline(STEPS), Image.fromarray(half_black())
    one_step = sum(np.asarray(augment_line(augment, image, seed))[0, 0, 0] == 255 for seed in SEEDS)
    assert 0.4 < one_step / len(SEEDS) < 0.6


def test_a_seed_repeats_its_distortion_and_another_seed_changes_it():
    augment = build_pipeline([dict(transform="Affine", rotate=(-10, 10), p=1.0),
                              dict(transform="GaussNoise", std_range=(0.1, 0.2), p=1.0)])
    image = Image.fromarray(half_black())
    first, again, other = (np.asarray(augment_line(augment, image, seed)) for seed in (3, 3, 4))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_each_step_of_a_page_pipeline_decides_apart_from_the_others():
    augment = build_pipeline(STEPS, keypoints=True)
    square = [np.array([[1, 1], [3, 1], [3, 3], [1, 3]], np.float32)]
    flipped = one_step = 0
    for seed in SEEDS:
        image, polygons = augment_page(augment, half_black(), square, seed)
        flipped += polygons[0][:, 0].min() > 8  # the square went with the flip to the right half
        one_step += image[0, 0, 0] == 255
    assert 0.4 < flipped / len(SEEDS) < 0.6
    assert 0.4 < one_step / len(SEEDS) < 0.6
