"""DB's parts: the network on every zoo family at any input size, the targets, the loss and the post-processing,
each against hand-worked values or an independent geometry library (shapely); and a network that learns one
page's boxes."""
import math

import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from lightocr.tasks.detection.loss import DBLoss
from lightocr.tasks.detection.model import DBNet
from lightocr.tasks.detection.postprocess import DBPostProcess
from lightocr.tasks.detection.targets import DBTargets

ONE_PER_FAMILY = ["lo_mobilenetv1_025", "lo_mobilenetv2_035", "lo_mobilenetv3_large_050", "lo_mobilenetv3_small_050",
                  "lo_rexnet_100", "lo_shufflenetv1_g3_050", "lo_shufflenetv2_050", "lo_squeezenet1_1",
                  "lo_xception", "lo_xception65", "resnet18"]


def rectangle(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def iou(a, b):
    a, b = Polygon(a), Polygon(b)
    return a.intersection(b).area / a.union(b).area


@pytest.mark.parametrize("backbone", ONE_PER_FAMILY)
def test_maps_have_the_input_size_on_every_family(backbone):
    net = DBNet(backbone, neck_channels=32).eval()
    with torch.no_grad():
        maps = net(torch.rand(1, 3, 97, 131))  # odd sizes: unpadded stems give maps that are not exact halves
    assert set(maps) == {"prob", "thresh"}
    assert all(m.shape == (1, 1, 97, 131) and 0 <= m.min() and m.max() <= 1 for m in maps.values())
    strides = net.backbone.feature_info.reduction()
    assert [strides[i] for i in net.levels] == ([4, 8, 16] if "squeezenet" in backbone else [4, 8, 16, 32])


def test_xception65_uses_its_low_level_feature_as_the_finest_level():
    net = DBNet("lo_xception65", neck_channels=32)
    finest = net.backbone.feature_info.get_dicts()[net.levels[0]]
    assert finest["reduction"] == 4 and finest["module"] == "stages.2.0.stack.act3" and finest["num_chs"] == 256


def test_targets_shrink_by_the_vatti_offset_and_rise_to_the_edges():
    targets = DBTargets()([rectangle(20, 20, 180, 60)], [False], 100, 200)
    distance = 160 * 40 * (1 - 0.4 ** 2) / (2 * (160 + 40))  # A (1 - r^2) / L = 13.44
    rows, columns = np.flatnonzero(targets["prob"].any(1)), np.flatnonzero(targets["prob"].any(0))
    # the kernel spans side - 2 D, give or take the pixel grid (filled polygons include their edge pixels)
    assert abs(len(columns) - (160 - 2 * distance)) <= 2 and abs(len(rows) - (40 - 2 * distance)) <= 2
    assert targets["prob"][40, 100] == 1 and targets["prob"][40, 30] == 0  # 10 px inside the edge: outside the kernel
    assert targets["thresh"][20, 100] == pytest.approx(0.7, abs=0.01)  # on the edge
    assert targets["thresh"][40, 100] == pytest.approx(0.3)  # 20 px from every edge: more than D
    assert targets["thresh"][int(20 - distance / 2), 100] == pytest.approx(0.5, abs=0.04)  # halfway out
    assert targets["thresh_mask"][int(20 - distance + 2), 100] == 1 and targets["thresh_mask"][2, 100] == 0


def test_dont_care_and_tiny_text_are_masked_out():
    targets = DBTargets()([rectangle(10, 10, 90, 40), rectangle(100, 10, 190, 14)], [True, False], 60, 200)
    assert targets["prob"].sum() == 0
    assert targets["prob_mask"][25, 50] == 0 and targets["prob_mask"][12, 150] == 0 and targets["prob_mask"][50, 50] == 1
    empty = DBTargets()([], [], 32, 32)
    assert empty["prob"].sum() == 0 and empty["thresh_mask"].sum() == 0


def test_balanced_bce_takes_three_hardest_negatives_per_positive():
    pred = torch.tensor([[0.8, 0.9, 0.6, 0.3, 0.2, 0.1]])
    gt = torch.tensor([[1.0, 0, 0, 0, 0, 0]])
    loss = DBLoss().balanced_bce(pred, gt, torch.ones_like(gt))
    expected = (-math.log(0.8) - math.log(0.1) - math.log(0.4) - math.log(0.7)) / 4  # negatives 0.9, 0.6, 0.3
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_postprocess_recovers_the_text_boxes_from_their_kernels():
    boxes = [rectangle(20, 30, 180, 70), np.array([[40, 100], [150, 112], [147, 142], [37, 130]], np.float32)]
    targets = DBTargets()(boxes, [False, False], 160, 200)
    found = DBPostProcess()(targets["prob"])
    assert len(found) == 2
    for box in boxes:
        assert max(iou(box, points) for points, _ in found) > 0.75
    half = DBPostProcess()(targets["prob"][::2, ::2], scale=(2.0, 2.0))  # a map at half the page's size
    for box in boxes:
        assert max(iou(box, points) for points, _ in half) > 0.6


def test_a_network_learns_the_boxes_of_one_page():
    torch.manual_seed(0)
    page = np.full((96, 96, 3), 235, np.uint8)
    corners = ((8, 10, 84, 30), (20, 52, 76, 78))
    rng = np.random.default_rng(0)
    for x0, y0, x1, y1 in corners:  # dark "ink" inside each box
        page[y0 + 4:y1 - 4, x0 + 2:x1 - 2] = rng.integers(0, 60, (y1 - y0 - 8, x1 - x0 - 4, 1))
    boxes = [rectangle(*c) for c in corners]
    images = torch.from_numpy(page).permute(2, 0, 1)[None].float() / 127.5 - 1
    targets = {k: torch.from_numpy(v)[None] for k, v in DBTargets()(boxes, [False, False], 96, 96).items()}
    net, loss_fn = DBNet("lo_mobilenetv3_small_050", neck_channels=32), DBLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(90):
        loss = loss_fn(net.train()(images), targets)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        prob = net.eval()(images)["prob"][0, 0].numpy()
    found = DBPostProcess()(prob)
    assert len(found) == 2, found
    for box in boxes:
        assert max(iou(box, points) for points, _ in found) > 0.6


def test_icdar2015_protocol_counts():
    from lightocr.tasks.detection.metrics import DetectionMetric
    metric = DetectionMetric()
    truths = [(rectangle(0, 0, 100, 20), False), (rectangle(0, 40, 100, 60), False), (rectangle(0, 80, 50, 100), True)]
    detections = [rectangle(0, 2, 100, 22),     # IoU 18/22 with the first: a match
                  rectangle(0, 2, 100, 22),     # the same region again: the first took it, a false positive
                  rectangle(0, 40, 30, 60),     # IoU 0.3 with the second: a false positive
                  rectangle(5, 82, 45, 98)]     # on the don't-care region: not counted
    metric.update([detections], [truths])
    metric.update([[]], [[]])                   # an empty page changes nothing
    values = metric.compute()
    precision, recall = 1 / 3, 1 / 2
    assert values["precision"].item() == pytest.approx(precision)
    assert values["recall"].item() == pytest.approx(recall)
    assert values["hmean"].item() == pytest.approx(2 * precision * recall / (precision + recall))


def test_training_windows_start_between_lines_and_cut_lines_are_dont_care():
    from lightocr.data.detection import crop_page
    page = np.broadcast_to(np.arange(200, dtype=np.float32)[None, :, None], (1, 200, 300)).copy()  # value = row
    full = np.array([[10, 50], [290, 50], [290, 70], [10, 70]], np.float32)  # a line of rows 50..70
    lower = full + (0, 100)  # rows 150..170
    starts = set()
    for seed in range(40):
        cut, polygons, ignore = crop_page(page, [full, lower], [False, False], 100, np.random.default_rng(seed))
        start = int(cut[0, 0, 0])
        starts.add(start)
        assert cut.shape == (1, 100, 100) and not (50 <= start <= 70)  # the window's top edge cuts no line
        for points, ignored in zip(polygons, ignore):
            assert points.min() >= 0 and points.max() <= 100
            assert ignored  # 280 wide in a 100-wide window: cut at the sides, so don't-care
    assert len(starts) > 10
    small = np.array([[5, 5], [40, 5], [40, 20], [5, 20]], np.float32)
    cut, polygons, ignore = crop_page(page[:, :30, :50], [small], [False], 64, np.random.default_rng(0))
    assert cut.shape == (1, 64, 64) and ignore == [False] and cut[0, 40:].max() == 0  # padded, the line whole
