"""The detection task as users run it: `lightning fit` of every family's config on synthetic pages, `lightocr
detect` and `lightocr export`; export parity on the maps and the boxes; bad regions and pages."""
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from lightocr.data.detection import PageDataset, collate_pages
from lightocr.data.page_inputs import PageGeometry
from lightocr.data.pages import SyntheticPageSource
from lightocr.data.samples import BadSampleError
from lightocr.data.sources import Region, SampleSource
from lightocr.tasks.detection.postprocess import DBPostProcess

from ...test_cli import BIN, OFFLINE, ROOT, checkpoint, run

DET_CONFIGS = sorted(p.name for p in (ROOT / "configs").glob("det_*.yaml"))
DEFAULT_CONFIG = "det_mobilenetv3.yaml"


def pages(size, seed):
    return dict(class_path="lightocr.data.SyntheticPageSource",
                init_args=dict(size=size, seed=seed, page_size=[96, 160], font_dirs=[]))


def test_every_family_has_a_detection_config():
    assert len(DET_CONFIGS) == 9


@pytest.mark.parametrize("name", DET_CONFIGS)
def test_short_fit_of_each_detection_config(tmp_path, name):
    """The default config as a user runs it, a `lightning fit` command, then `lightocr detect` on its checkpoint;
    the other families' configs in this process (``run_here``)."""
    args = ["fit", "--config", str(ROOT / "configs" / name), "--trainer.max_steps=2",
            "--trainer.val_check_interval=2", "--trainer.enable_progress_bar=false", "--data.init_args.size=96",
            "--data.init_args.train_crop=64", "--data.init_args.batch_size=2", "--data.init_args.num_workers=0",
            f"--data.init_args.train_sources={json.dumps([pages(8, 0)])}",
            f"--data.init_args.val_sources={json.dumps([pages(2, 1)])}"]
    run([str(BIN / "lightning"), *args], tmp_path, env=OFFLINE, here=name != DEFAULT_CONFIG)
    last = tmp_path / "runs" / name.removesuffix(".yaml") / "version_0" / "checkpoints" / "last.ckpt"
    state = checkpoint(last)
    assert state["global_step"] == 2 and state["hyper_parameters"]["input_geometry"]["size"] == 96
    if name == DEFAULT_CONFIG:  # its checkpoint is read, as a user would next
        page = tmp_path / "page.png"
        SyntheticPageSource(1, seed=3, page_size=(120, 200), font_dirs=[]).load(0)[0].save(page)
        run([str(BIN / "lightocr"), "detect", "--ckpt", str(last), str(page), "--draw", str(tmp_path / "drawn")],
            tmp_path)
        assert Image.open(tmp_path / "drawn" / "page.png").size == Image.open(page).size  # the page, boxes drawn


def test_fit_on_label_files_mixed_by_ratio(tmp_path):
    """ICDAR2015 files and a PaddleOCR label file, each with a bad line, mixed 3:1 from YAML; the bad lines are
    counted in the checkpoint, the run goes on."""
    icdar, paddle_lines = tmp_path / "icdar", []
    icdar.mkdir()
    pages_made = SyntheticPageSource(6, seed=5, page_size=(96, 160), font_dirs=[])
    for index in range(6):
        image, regions, _ = pages_made.load(index)
        image.save(icdar / f"img_{index}.jpg")
        if index < 4:
            lines = [",".join(f"{v:g}" for v in np.ravel(r.polygon)) + f",{r.text}" for r in regions]
            (icdar / f"gt_img_{index}.txt").write_text("\n".join(lines + ["1,2,3,4,5,6,bad"]), encoding="utf-8-sig")
        else:
            entries = [dict(transcription=r.text, points=[[float(x), float(y)] for x, y in r.polygon])
                       for r in regions]
            paddle_lines.append(f"img_{index}.jpg\t{json.dumps(entries + [dict(points=[[1, 2]])])}")
    (icdar / "det_gt.txt").write_text("\n".join(paddle_lines) + "\n", encoding="utf-8")
    for index in (4, 5):  # labelled by the Paddle file; the ICDAR source sees only a bad line
        (icdar / f"gt_img_{index}.txt").write_text("1,2,3,4,5,6,bad")
    train = [dict(class_path="lightocr.data.Icdar2015Source", init_args=dict(images=str(icdar), ratio=3)),
             dict(class_path="lightocr.data.PaddleDetectionLabelSource",
                  init_args=dict(path=str(icdar / "det_gt.txt"), ratio=1))]
    val = [dict(class_path="lightocr.data.Icdar2015Source", init_args=dict(images=str(icdar)))]
    run([str(BIN / "lightning"), "fit", "--config", str(ROOT / "configs" / "det_mobilenetv3.yaml"),
         "--trainer.max_steps=2", "--trainer.val_check_interval=2", "--trainer.enable_progress_bar=false",
         "--model.init_args.backbone=lo_mobilenetv3_small_050", "--model.init_args.neck_channels=32",
         "--data.init_args.size=96", "--data.init_args.train_crop=64", "--data.init_args.batch_size=4",
         "--data.init_args.train_size=8", "--data.init_args.num_workers=0",
         f"--data.init_args.train_sources={json.dumps(train)}", f"--data.init_args.val_sources={json.dumps(val)}"],
        tmp_path, env=dict(WANDB_API_KEY="", WANDB_MODE="offline"))
    state = checkpoint(tmp_path / "runs" / "det_mobilenetv3" / "version_0" / "checkpoints" / "last.ckpt")
    assert state["global_step"] == 2
    counts = state["skipped_samples"]
    assert counts["bad_region"] == 8 and counts["image"] == counts["bad_label"] == 0  # a bad line on every page


def trained_detector(tmp_path):
    from lightocr.tasks import DetectionTask
    task = DetectionTask(input_geometry=PageGeometry(size=96).as_dict(), backbone="lo_mobilenetv3_small_050",
                         neck_channels=32)
    for module in task.modules():  # BatchNorm statistics of a real page, not the initial ones
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    return task.eval()


def test_export_parity_on_the_maps_and_the_boxes(tmp_path):
    from lightocr.export import export_task
    from lightocr.predictor import open_predictor
    task = trained_detector(tmp_path)
    exported = open_predictor(export_task(task, tmp_path / "det.onnx"))
    torch_reader = task.predictor()
    image = SyntheticPageSource(1, seed=3, page_size=(120, 200), font_dirs=[]).load(0)[0]
    inputs = torch_reader.collate([torch_reader.prepare(image)])
    assert inputs["images"].shape[-2:] == (96, 64)  # the longer side 96, each a multiple of 32
    ours, theirs = torch_reader.engine(**inputs), exported.engine(**inputs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-4
    # the same boxes from both maps, at thresholds that make some (the untrained map is speckled)
    found = 0
    for quantile in (0.05, 0.3, 0.5, 0.7):
        post = DBPostProcess(thresh=float(np.quantile(ours[0], quantile)), box_thresh=0.0, min_size=1)
        boxes_torch, boxes_onnx = post(ours[0][0, 0]), post(theirs[0][0, 0])
        assert len(boxes_torch) == len(boxes_onnx)
        for (p, s), (q, t) in zip(boxes_torch, boxes_onnx):
            assert np.abs(p - q).max() <= 1 and math.isclose(s, t, abs_tol=1e-3)
        found += len(boxes_torch)
    assert found > 1


class OddPages(SampleSource):
    """A page with every kind of bad region, a page without text, and a 1x1 image."""

    def __len__(self):
        return 3

    def load(self, index, epoch=0):
        if index == 0:
            regions = [Region(((10, 10), (60, 10), (60, 30), (10, 30)), "good"),
                       Region(((5, 5), (9, 9)), "two points"),
                       Region(((1, 1), (float("nan"), 1), (5, 5)), "not a number"),
                       Region(((1, 1), (20, 1), (40, 1)), "no area"),
                       Region(((50, 40), (140, 40), (140, 70), (50, 70)), "clipped"),  # beyond the right edge
                       Region(((10, 50), (40, 50), (40, 70), (10, 70)), "###")]
            return Image.new("RGB", (100, 80), "white"), regions, "page0"
        if index == 1:
            return Image.new("RGB", (100, 80), "white"), [], "empty"
        return Image.new("RGB", (1, 1), "white"), [], "dot"


def test_bad_regions_are_counted_and_odd_pages_are_samples():
    dataset = PageDataset(OddPages(), PageGeometry(size=64))
    batch = collate_pages([dataset[i] for i in range(3)])
    assert batch["keys"] == ["page0", "empty", "dot"] and batch["images"].shape == (3, 3, 64, 64)
    skipped = {s.key.split("(")[1].rstrip(")"): s.reason for s in batch["skipped"]}
    assert skipped == {"'two points'": "fewer than 3 points", "'not a number'": "a coordinate that is not a finite "
                       "number", "'no area'": "no area inside the page"}
    assert all(s.kind == "bad_region" and s.key.startswith("page0: region") for s in batch["skipped"])
    regions = batch["regions"][0]
    assert [dont_care for _, dont_care in regions] == [False, False, True]
    clipped = regions[1][0]
    assert clipped[:, 0].max() <= 64 and clipped[:, 0].max() == pytest.approx(100 * 64 / 100)  # clipped, scaled
    assert batch["prob"][0].sum() > 0 and batch["prob"][1].sum() == 0 and batch["prob"][2].sum() == 0
    with pytest.raises(BadSampleError, match="page0: region 1 .*fewer than 3 points"):
        PageDataset(OddPages(), PageGeometry(size=64), on_error="raise")[0]


def test_a_run_starts_from_the_shipped_detector_by_name(tmp_path):
    """``init_from: lightocr-det``: the weights that ship in the package, no file to find; lr 0 keeps them."""
    from safetensors.torch import load_file
    from lightocr.pretrained import WEIGHTS_DIR

    result = run([str(BIN / "lightning"), "fit", "--config", str(ROOT / "configs" / "det_mobilenetv3.yaml"),
                  "--model.init_args.init_from=lightocr-det", "--model.init_args.lr=0", "--trainer.max_steps=1",
                  "--trainer.limit_val_batches=0", "--trainer.enable_progress_bar=false",
                  "--data.init_args.size=96", "--data.init_args.train_crop=64", "--data.init_args.batch_size=2",
                  "--data.init_args.num_workers=0", f"--data.init_args.train_sources={json.dumps([pages(4, 0)])}"],
                 tmp_path, env=dict(WANDB_API_KEY="", WANDB_MODE="offline"))
    assert "init_from: " in result.stdout + result.stderr
    trained = checkpoint(tmp_path / "runs" / "det_mobilenetv3" / "version_0" / "checkpoints" / "last.ckpt")
    shipped = load_file(str(WEIGHTS_DIR / "lightocr-det.safetensors"))
    for name, value in shipped.items():
        if name.endswith(("weight", "bias")) and "bn" not in name.lower():
            assert torch.equal(trained["state_dict"][name], value.float()), name


def test_a_trained_detector_is_read_with_other_box_settings():
    """``load_task(..., unclip_ratio=...)``: the weights as trained, the boxes grown as asked, in the reader and in
    the settings it saves; a setting the task lacks is refused by name."""
    from lightocr.pretrained import WEIGHTS_DIR
    from lightocr.tasks import load_task

    path = str(WEIGHTS_DIR / "lightocr-det.safetensors")
    shipped, wider = load_task(path), load_task(path, unclip_ratio=2.5)
    assert shipped.postprocess.unclip_ratio == shipped.hparams["unclip_ratio"] != 2.5
    assert wider.postprocess.unclip_ratio == wider.hparams["unclip_ratio"] == 2.5
    page = torch.zeros(1, 3, 64, 64)
    page[:, :, 24:40, 8:56] = 1
    assert torch.equal(shipped(page)["prob"], wider(page)["prob"])
    with pytest.raises(ValueError, match="DetectionTask has no setting unclip"):
        load_task(path, unclip=2.5)
