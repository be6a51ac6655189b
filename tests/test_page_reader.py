"""The page reader as users run it: `lightocr read` on real files with a detector and a recognizer (the shipped
detector, small recognizers written to disk), its outputs (rows, JSON, drawn pages), its bad inputs; and its
parts on pages whose answers are known by construction (line crops, reading order)."""
import json

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from lightocr.data.geometry import LineGeometry
from lightocr.data.pages import SyntheticPageSource
from lightocr.errors import ModelFileError
from lightocr.page_reader import PageReader, crop_line, page_skew, reading_order
from lightocr.pretrained import WEIGHTS_DIR

from .test_cli import BIN, run

SHIPPED_DETECTOR = WEIGHTS_DIR / "lightocr-det.onnx"


def box(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


# reading order -------------------------------------------------------------------------------------------
def test_columns_are_read_one_after_the_other():
    heading = box(20, 10, 170, 40)
    left = [box(20, y, 180 - (y % 30), y + 16) for y in (50, 76, 101, 128, 150)]
    right = [box(200, y, 380, y + 16) for y in (12, 40, 63, 92, 117, 139)]  # another spacing: not rows
    lines = [right[2], left[0], heading, right[0], left[3], right[5], left[1], right[1], left[4], right[3],
             left[2], right[4]]
    order = [lines[i].tolist() for i in reading_order(lines)]
    assert order == [b.tolist() for b in [heading, *left, *right]]


def test_a_form_and_a_receipt_are_read_row_by_row():
    cells = {(r, c): box(10 + 120 * c, 10 + 40 * r, 10 + 120 * c + 60 + 7 * ((r + c) % 4), 30 + 40 * r)
             for r in range(4) for c in range(3) if (r, c) != (2, 1)}  # one empty cell
    shuffled = list(cells.values())[::-1]
    assert [shuffled[i].tolist() for i in reading_order(shuffled)] == [b.tolist() for b in cells.values()]
    title = box(60, 5, 200, 30)
    rows = [(box(20, y, 90 + y % 40, y + 14), box(190, y + 1, 230, y + 13)) for y in range(50, 260, 26)]
    receipt = [title] + [b for row in rows for b in row]
    assert reading_order(receipt[::-1]) == list(range(len(receipt)))[::-1]


def test_level_columns_are_told_from_a_form_by_its_ruling_lines():
    """Cells flush left and ragged right, level in rows: columns of text when no rule runs between them, a form
    read row by row when one does; the boxes alone read rows."""
    cells = [box(20 + 200 * c, 20 + 30 * r, 20 + 200 * c + 80 + 37 * ((r * 3 + c) % 4), 36 + 30 * r)
             for c in range(2) for r in range(6)]
    by_rows = [r + 6 * c for r in range(6) for c in range(2)]
    blank = np.full((240, 440, 3), 230, np.uint8)
    ruled = cv2.line(blank.copy(), (205, 10), (205, 200), (170, 150, 150), 1)
    for degrees in (0.0, 2.0):  # a tilted page is turned level, its pixels with its lines
        lines, turn = turned(cells, degrees), cv2.getRotationMatrix2D((300, 200), degrees, 1.0)
        page, form = (cv2.warpAffine(image, turn, (440, 240), borderValue=(230, 230, 230)) for image in (blank, ruled))
        assert reading_order(lines) == by_rows
        assert reading_order(lines, page) == list(range(12))
        assert reading_order(lines, form) == by_rows
        assert reading_order(lines, form[..., 0]) == by_rows  # grey pages too


CELL = 120, 70  # a ruled form's cells, width and height in pixels


def ruled_form(rows, columns):
    """A grey page ruled into ``rows`` by ``columns`` cells of ``CELL`` pixels from (10, 10)."""
    width, height = CELL
    page = np.full((20 + rows * height, 20 + columns * width, 3), 235, np.uint8)
    for x in range(10, 11 + columns * width, width):
        cv2.line(page, (x, 10), (x, 10 + rows * height), (90, 90, 120), 1)
    for y in range(10, 11 + rows * height, height):
        cv2.line(page, (10, y), (10 + columns * width, y), (90, 90, 120), 1)
    return page


def cell_line(row, column, top, height):
    """The box of a line at ``top`` pixels into a cell of ``ruled_form``, its width by its place."""
    x, y = 18 + CELL[0] * column, 10 + CELL[1] * row + top
    return box(x, y, x + 62 + 7 * (row % 3), y + height)


def test_a_ruled_form_whose_cells_hold_print_of_other_sizes_is_read_row_by_row():
    """Text at the top of each cell, some cells in larger print standing lower than the print beside them
    (offset: sharing less than half its height). With the page's pixels, the ruling lines between its columns
    make it a form, read row by row (2 offset lines of 16), and a cell set so low that its row's trimmed boxes
    part is read within its row, not after it."""
    lower = {(0, 2), (2, 1)}
    cells = [cell_line(row, column, *((17, 20) if (row, column) in lower else (8, 16)))
             for row in range(4) for column in range(4)]
    assert reading_order(cells[::-1], ruled_form(4, 4)) == list(range(len(cells)))[::-1]
    cells = [cell_line(row, column, *((16, 28) if (row, column) == (1, 1) else (8, 12)))
             for row in range(4) for column in range(3)]
    assert reading_order(cells[::-1], ruled_form(4, 3)) == list(range(len(cells)))[::-1]


def test_columns_of_single_words_on_one_line_pitch_are_read_one_after_the_other():
    """Three columns of one word per line, level across the page and flush left, their right edges spread by 0.35
    times the line height (words of a few letters): columns of text, since no rule runs between them."""
    widths = [57, 71, 50, 78, 64, 55, 73, 58, 68]  # their median distance from their median: 7 pixels
    columns = [[box(x, 20 + 30 * k, x + widths[(k + shift) % 9], 40 + 30 * k) for k in range(9)]
               for shift, x in enumerate((20, 200, 380))]
    lines = [line for column in columns for line in column]
    assert reading_order(lines[::-1], np.full((320, 500, 3), 235, np.uint8)) == list(range(len(lines)))[::-1]


def test_rendered_columns_sharing_a_line_pitch_are_read_one_after_the_other():
    """Rendered pages with their true line boxes, in their written order: the page's pixels read columns of
    level lines right and never read a form or a receipt worse."""
    wrong = {}
    for layout in ("columns", "form", "receipt"):
        source = SyntheticPageSource(40, seed=11, layouts=[layout], font_include=["DejaVuSans.ttf", "DejaVuSerif.ttf"],
                                     hershey_fonts=False)
        for index in range(40):
            image, regions, _ = source.load(index)
            lines = [np.asarray(region.polygon, np.float32) for region in regions]
            for given in ("boxes", "pixels"):
                order = reading_order(lines, np.asarray(image) if given == "pixels" else None)
                if order != list(range(len(lines))):
                    wrong.setdefault((layout, given), set()).add(index)
    assert wrong.get(("columns", "boxes")) and not wrong.get(("columns", "pixels"))
    for layout in ("form", "receipt"):
        assert wrong.get((layout, "pixels"), set()) <= wrong.get((layout, "boxes"), set())


def test_columns_whose_gutter_a_line_or_a_speck_crosses_are_read_one_after_the_other():
    """No empty strip between the columns: a line juts into the next column, or a speck the detector took for
    text lies across the gutter. The boxes alone read them as columns all the same."""
    left = [box(20, y, 170 - (y * 7 % 40), y + 16) for y in range(20, 260, 24)]  # flush left, ragged right
    right = [box(200, y, 330 - (y * 5 % 50), y + 16) for y in range(30, 250, 27)]  # on another pitch
    jutting = left[:3] + [box(20, 92, 214, 108)] + left[4:]  # 14 pixels into the right column
    assert reading_order((jutting + right)[::-1]) == list(range(len(jutting + right)))[::-1]
    speck = len(left + right)
    order = reading_order(left + right + [box(186, 150, 205, 158)])
    assert [i for i in order if i != speck] == list(range(speck))  # the speck itself may go anywhere
    heading = box(60, 0, 300, 14)  # over both columns: read first, not as a line of either
    assert reading_order([heading] + left + right[1:]) == list(range(len(left + right)))
    section = box(20, 270, 300, 286)  # between two pairs of columns: after the first, before the second
    below = [box(20, y, 160 - y % 30, y + 16) for y in range(300, 400, 24)] + \
        [box(200, y, 330 - y % 40, y + 16) for y in range(300, 400, 27)]
    page = left + right[1:] + [section] + below
    assert reading_order(page[::-1]) == list(range(len(page)))[::-1]


def test_a_receipt_whose_title_crosses_its_gutter_is_read_row_by_row():
    """Amounts flush right beside their items, a few offset by more than half a line (a detector's boxes):
    a title crossing the gutter does not make them two columns of text."""
    title = box(100, 5, 230, 30)
    offset = {y: 9 if y % 3 == 0 else 0 for y in range(50, 260, 26)}
    rows = [(box(20, y, 90 + y % 40, y + 14), box(190, y + 1 + offset[y], 240, y + 13 + offset[y])) for y in offset]
    receipt = [title] + [b for row in rows for b in row]
    assert reading_order(receipt[::-1], np.full((300, 260, 3), 235, np.uint8)) == list(range(len(receipt)))[::-1]


def test_tilted_lines_of_a_paragraph_keep_their_order():
    centre = np.array([200, 150], np.float32)
    turn = cv2.getRotationMatrix2D((200, 150), 3, 1.0)[:, :2]
    lines = [(box(30, y, 370, y + 18) - centre) @ turn.T + centre for y in range(20, 280, 26)]
    assert reading_order(lines[::-1]) == list(range(len(lines)))[::-1]
    assert reading_order([]) == []


def turned(lines, degrees, centre=(300, 200)):
    """The lines turned about ``centre`` as a page turned by ``degrees`` (counter-clockwise on screen)."""
    turn = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return [np.c_[line, np.ones(len(line))] @ turn.T for line in lines]


def test_the_tilt_of_a_page_is_measured_from_its_lines():
    lines = [box(30, y, 30 + 40 * (1 + y % 7), y + 14) for y in range(20, 400, 30)]
    lines.append(box(500, 30, 516, 90))  # a narrow box says nothing of the tilt
    for degrees in (-3.0, -1.2, 0.0, 0.7, 2.5):
        assert page_skew(turned(lines, degrees)) == pytest.approx(-degrees, abs=0.05)


def test_a_wide_form_tilted_by_two_degrees_is_still_read_row_by_row():
    """At 2 degrees the right end of a 560-pixel row rises 20 pixels: more than the gap between rows."""
    cells = [box(20 + 140 * c, 20 + 26 * r, 20 + 140 * c + 90 + 9 * ((r + c) % 3), 36 + 26 * r)
             for r in range(8) for c in range(4)]
    for degrees in (-2.0, 2.0):
        lines = turned(cells, degrees)
        assert reading_order(lines[::-1]) == list(range(len(cells)))[::-1]


def test_a_line_split_in_pieces_is_read_from_the_left():
    """Pieces of one line whose boxes overlap (a detector's split at a wide gap): by position in the row, not
    by a pixel's difference in their centres."""
    pieces = [box(20, 50, 140, 78), box(130, 46, 260, 76), box(250, 52, 300, 75)]
    below = box(20, 90, 200, 112)
    lines = [below, pieces[2], pieces[0], pieces[1]]
    assert reading_order(lines) == [2, 3, 1, 0]


# crops ---------------------------------------------------------------------------------------------------
def written_line(text="Quartz 42", size=40):
    font = ImageFont.load_default(size)
    left, top, right, bottom = font.getbbox(text)
    line = Image.new("L", (right - left + 16, bottom - top + 12), 255)
    ImageDraw.Draw(line).text((8 - left, 6 - top), text, font=font, fill=0)
    return np.asarray(line)


@pytest.mark.parametrize("angle", [0, 12, -25])
def test_a_tilted_line_is_cut_out_upright_at_its_own_size(angle):
    line = written_line()
    height, width = line.shape
    page = np.full((600, 700), 255, np.uint8)
    page[200:200 + height, 150:150 + width] = line
    centre = (150 + width / 2, 200 + height / 2)
    turn = cv2.getRotationMatrix2D(centre, angle, 1.0)
    page = cv2.warpAffine(page, turn, (700, 600), borderValue=255)
    corners = box(150, 200, 150 + width, 200 + height)
    quad = np.hstack([corners, np.ones((4, 1), np.float32)]) @ turn.T
    crop = crop_line(np.stack([page] * 3, -1), quad[[1, 2, 3, 0]])  # any starting corner
    assert abs(crop.shape[0] - height) <= 1 and abs(crop.shape[1] - width) <= 1
    upright = cv2.resize(crop[..., 0], (width, height)).astype(np.float32)
    assert np.corrcoef(upright.ravel(), line.astype(np.float32).ravel())[0, 1] > 0.9


# the reader, in Python ------------------------------------------------------------------------------------
def line_recognizer(tmp_path, channels=3, name="rec.onnx"):
    """An untrained small recognizer, exported: what it reads is noise, how it is fed is not."""
    from lightocr.export import export_task
    from lightocr.tasks import TextRecognitionTask
    task = TextRecognitionTask(charset=list("abcdefghij "), in_chans=channels,
                               input_geometry=LineGeometry(channels=channels).as_dict(),
                               backbone="lo_mobilenetv3_small_050", neck_kwargs=dict(hidden_size=8))
    return export_task(task, tmp_path / name)


def test_narrow_and_tall_crops_are_read_and_channels_converted(tmp_path):
    reader = PageReader(det=str(SHIPPED_DETECTOR), rec=str(line_recognizer(tmp_path, channels=1)))
    page = Image.new("RGB", (300, 200), (250, 240, 230))
    boxes = [(box(10, 10, 12, 40), 0.9),        # 2 px wide: padded to the recognizer's least width
             (box(100, 20, 130, 180), 0.8),     # taller than wide: read turned both ways, the better kept
             (box(150, 60, 290, 90), 0.7)]
    lines = reader.read_lines(page, boxes)
    assert sorted(line.score for line in lines) == [0.7, 0.8, 0.9]
    assert all(isinstance(line.text, str) and 0 <= line.confidence <= 1 for line in lines)


def test_a_detector_and_a_recognizer_swapped_are_both_named(tmp_path):
    rec = str(line_recognizer(tmp_path))
    for options in ({}, dict(beam_width=4, text_height=20)):  # each option is its own task's, not the model's
        with pytest.raises(ModelFileError, match=r"det .*rec\.onnx is a text-recognition model and rec .*lightocr-"
                                                 r"det\.onnx a text-detection one \(given the other way round\? swap"):
            PageReader(det=rec, rec=str(SHIPPED_DETECTOR), **options)


def test_reading_options_reach_the_models_they_belong_to(tmp_path):
    reader = PageReader(rec=str(line_recognizer(tmp_path)), beam_width=4, text_height=20)
    assert reader.detector.text_height == 20 and reader.recognizer.decoder.beam_width == 4
    given = PageReader(det=reader.detector, rec=reader.recognizer, text_height=0)  # predictors passed in
    assert given.detector.text_height == 0 and given.recognizer is reader.recognizer


# the command line -----------------------------------------------------------------------------------------
def page_with_lines(path, texts, size=(640, 360), print_size=30, pitch=70):
    """A white page with ``texts`` written one per line (large print by default), and where each line is."""
    image = Image.new("RGB", size, "white")
    pen, font, places = ImageDraw.Draw(image), ImageFont.load_default(print_size), []
    for number, text in enumerate(texts):
        left, top, right, bottom = pen.textbbox((40, 40 + pitch * number), text, font=font)
        pen.text((40, 40 + pitch * number), text, font=font, fill="black")
        places.append((left, top, right, bottom))
    image.save(path)
    return places


def assert_found_where_written(found, places):
    """One box per written line, top to bottom, each centred on its line's height and reaching its ends."""
    assert len(found.boxes) == len(places)
    for (points, _), (left, top, right, bottom) in zip(sorted(found.boxes, key=lambda b: b[0][:, 1].mean()), places):
        assert abs(points[:, 1].mean() - (top + bottom) / 2) < 5 and abs(points[:, 0].min() - left) < 10
        assert abs(points[:, 0].max() - right) < 10


def test_a_page_of_small_print_is_detected_again_enlarged(tmp_path):
    """Print 14 pixels high on a page 1280 wide is 7 pixels high at the detector's 640-pixel input, under the
    text height it was trained on: the page is read a second time, enlarged, and every line is found where it
    was written. Large print is read once."""
    from lightocr.predictor import open_predictor
    texts = ["Invoice number 2024-117", "Total due: $512.40", "Thank you, come again!", "Paid by card 4411"]
    small = page_with_lines(tmp_path / "small.png", texts, size=(1280, 720), print_size=14, pitch=30)
    page_with_lines(tmp_path / "large.png", texts, size=(1280, 720), print_size=40, pitch=80)
    detector = open_predictor(SHIPPED_DETECTOR)
    inputs_seen = input_sizes_seen(detector)
    (_, found), = next(detector.results([tmp_path / "small.png"]))
    assert inputs_seen[0] == (352, 640) and len(inputs_seen) == 2 and 640 < max(inputs_seen[1]) <= 960
    assert_found_where_written(found, small)
    inputs_seen.clear()
    next(detector.results([tmp_path / "large.png"]))
    assert inputs_seen == [(352, 640)]
    once = open_predictor(SHIPPED_DETECTOR, text_height=0)
    inputs_seen = input_sizes_seen(once)
    next(once.results([tmp_path / "small.png"]))
    assert inputs_seen == [(352, 640)]


def test_a_page_where_nothing_is_found_is_read_again_at_the_largest_enlargement(tmp_path):
    """Print 12 pixels high on a page 1280 wide (6 at the detector's input) shows no line at all at the model's
    size; with no line to measure, the page is read again enlarged as far as it may be, and every line is found
    where it was written. A blank page comes out empty after the same two readings."""
    from lightocr.predictor import open_predictor
    from lightocr.tasks.detection.predictor import MAX_UPSCALE
    texts = ["Invoice number 2024-117", "Total due: $512.40", "Thank you, come again!", "Paid by card 4411"]
    tiny = page_with_lines(tmp_path / "tiny.png", texts, size=(1280, 720), print_size=12, pitch=26)
    Image.new("RGB", (1280, 720), "white").save(tmp_path / "blank.png")
    detector = open_predictor(SHIPPED_DETECTOR)
    inputs_seen = input_sizes_seen(detector)
    (_, found), (_, blank) = next(detector.results([tmp_path / "tiny.png", tmp_path / "blank.png"]))
    assert inputs_seen[1:] == [(544, 960)] * 2 and 640 * MAX_UPSCALE == 960
    assert blank.boxes == []
    assert_found_where_written(found, tiny)


def input_sizes_seen(detector):
    """The ``(height, width)`` of each input the detector's engine runs on from now on, in a list kept filled."""
    seen, engine = [], detector.engine
    detector.engine = lambda **inputs: seen.append(inputs["images"].shape[2:]) or engine(**inputs)
    return seen


def test_read_prints_each_line_with_its_box_as_json_and_drawn(tmp_path):
    rec = line_recognizer(tmp_path)
    places = page_with_lines(tmp_path / "page.png", ["a bad cafe", "hidden jade", "big deed 12"])
    command = [str(BIN / "lightocr"), "read", "--det", str(SHIPPED_DETECTOR), "--rec", str(rec)]
    rows = [r.split("\t") for r in run(command + [str(tmp_path / "page.png")], tmp_path).stdout.splitlines()]
    assert [r[1] for r in rows] == ["1", "2", "3"] and all(len(r) == 5 for r in rows)
    for row, (left, top, right, bottom) in zip(rows, places):  # each line found where it was written, in order
        xs, ys = np.array(row[2].split(","), float).reshape(4, 2).T
        assert abs(ys.mean() - (top + bottom) / 2) < 10 and xs.min() < left + 15 and xs.max() > right - 15
    document = json.loads(run(command + ["--json", "--draw", str(tmp_path / "drawn"), str(tmp_path / "page.png")],
                              tmp_path).stdout)
    lines = document["pages"][0]["lines"]
    assert [(line["line"], line["text"]) for line in lines] == [(int(r[1]), r[3]) for r in rows]
    assert [",".join(str(v) for p in line["polygon"] for v in p) for line in lines] == [r[2] for r in rows]
    drawn = Image.open(tmp_path / "drawn" / "page.png")
    assert drawn.size == (2 * 640, 360)  # the page beside its text


def test_bad_pages_are_named_and_the_others_read(tmp_path):
    rec = line_recognizer(tmp_path)
    page_with_lines(tmp_path / "good.png", ["cafe bead"])
    Image.new("RGB", (400, 300), "white").save(tmp_path / "blank.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    Image.new("1", (20000, 20000)).save(tmp_path / "huge.png")
    pages = [tmp_path / name for name in ("corrupt.png", "blank.png", "huge.png", "good.png")]
    result = run([str(BIN / "lightocr"), "read", "--det", str(SHIPPED_DETECTOR), "--rec", str(rec),
                  *map(str, pages)], tmp_path, check=False)
    assert result.returncode == 1
    assert [r.split("\t")[0] for r in result.stdout.splitlines()] == [str(pages[3])]
    errors = result.stderr.splitlines()
    assert any(e.startswith(f"{pages[0]}: ") for e in errors)
    assert f"{pages[1]}: no text found" in errors
    # refused before decoding, by Pillow's decompression-bomb guard (lightocr's max_pixels is lower still)
    assert any(e.startswith(f"{pages[2]}: ") and "400000000 pixels" in e and "exceeds limit of" in e
               for e in errors), errors
    document = json.loads(run([str(BIN / "lightocr"), "read", "--det", str(SHIPPED_DETECTOR), "--rec", str(rec),
                               "--json", *map(str, pages)], tmp_path, check=False).stdout)
    assert [(page["path"], page["error"] is None, len(page["lines"]) > 0) for page in document["pages"]] == [
        (str(pages[0]), False, False), (str(pages[1]), True, False), (str(pages[2]), False, False),
        (str(pages[3]), True, True)]
    only_blank = run([str(BIN / "lightocr"), "read", "--det", str(SHIPPED_DETECTOR), "--rec", str(rec),
                      str(pages[1])], tmp_path, check=False)
    assert only_blank.returncode == 0 and only_blank.stdout == ""


def test_rec_alone_reads_line_images_and_the_wrong_kind_of_model_is_named(tmp_path):
    rec = line_recognizer(tmp_path)
    Image.fromarray(written_line("bad cafe")).save(tmp_path / "line.png")
    rows = run([str(BIN / "lightocr"), "read", "--rec", str(rec), str(tmp_path / "line.png")], tmp_path).stdout
    assert [r.split("\t")[0] for r in rows.splitlines()] == [str(tmp_path / "line.png")]
    assert len(rows.splitlines()[0].split("\t")) == 3
    refused = run([str(BIN / "lightocr"), "read", "--rec", str(SHIPPED_DETECTOR), str(tmp_path / "line.png")],
                  tmp_path, check=False)
    assert refused.returncode == 1 and "is a text-detection model, not a text-recognition one" in refused.stderr
    swapped = run([str(BIN / "lightocr"), "read", "--det", str(rec), "--rec", str(SHIPPED_DETECTOR),
                   str(tmp_path / "line.png")], tmp_path, check=False)
    assert swapped.returncode == 1 and "swap them" in swapped.stderr and "Traceback" not in swapped.stderr


def test_synthetic_page_lines_come_back_in_the_order_they_were_written():
    """Reading order against the page renderer's own order (columns one after the other, forms row by row), on
    the true boxes of rendered pages of every layout. Columns whose lines stand level by chance read as rows (the
    boxes alone cannot tell), so a few pages may differ."""
    for layout in ("paragraph", "columns", "form", "receipt", "label"):
        source = SyntheticPageSource(40, seed=11, layouts=[layout], font_dirs=[])
        agree = 0
        for index in range(len(source)):
            _, regions, key = source.load(index)
            polygons = [np.asarray(r.polygon, np.float32) for r in regions]
            agree += reading_order(polygons) == list(range(len(polygons)))
        assert agree >= 0.85 * len(source), (layout, agree)


def test_reading_pages_with_exported_models_loads_neither_torch_nor_lightning(tmp_path):
    import subprocess
    import sys
    rec = line_recognizer(tmp_path)
    page_with_lines(tmp_path / "page.png", ["cafe bead"])
    script = ("import sys, lightocr; lines = lightocr.PageReader(det=sys.argv[1], rec=sys.argv[2])(sys.argv[3]); "
              "print(len(lines), any(m in sys.modules for m in ('torch', 'lightning', 'timm')))")
    done = subprocess.run([sys.executable, "-c", script, str(SHIPPED_DETECTOR), str(rec), str(tmp_path / "page.png")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "False"]


def test_read_with_no_flags_reads_a_page_with_the_shipped_models(tmp_path):
    """`lightocr read page.png` after install: the models in the package, no download, no option."""
    from torchmetrics.text import CharErrorRate
    texts = ["Invoice 2024-117", "Total due: $512.40", "Thank you, come again!"]
    page_with_lines(tmp_path / "page.png", texts)
    result = run([str(BIN / "lightocr"), "read", str(tmp_path / "page.png")], tmp_path)
    rows = [r.split("\t") for r in result.stdout.splitlines()]
    assert [r[1] for r in rows] == ["1", "2", "3"]
    assert float(CharErrorRate()([r[3] for r in rows], texts)) <= 0.1, rows


@pytest.mark.parametrize("command", [["read"], ["detect", "--ckpt", "lightocr-det"]], ids=["read", "detect"])
def test_output_whose_reader_went_away_ends_the_command_quietly(tmp_path, command):
    """`lightocr read page.png | head -1`: the pipe is closed before the rows are written; the command stops as a
    Unix tool stopped by SIGPIPE does (exit 141), with no traceback."""
    import subprocess
    page_with_lines(tmp_path / "page.png", ["Invoice 2024-117", "Total due: $512.40"])
    process = subprocess.Popen([str(BIN / "lightocr"), *command, str(tmp_path / "page.png")], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # the reader of its output gone, as `head` is once it has its line
    errors = process.stderr.read()
    assert process.wait(timeout=300) == 141 and errors == "", errors
