"""Tests of panoseg.report: the self-contained HTML report of ``panoseg eval --report``."""
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from panoseg import coco_panoptic_categories
from panoseg.report import CONFUSION_ROWS, MAX_IMAGE_WIDTH, render_report_html, write_report

DATA = Path(__file__).parent / "data" / "coco_panoptic_sample"
CATS = coco_panoptic_categories()

PERSON, CAR, HORSE, TREE, SKY, GRASS = 1, 3, 19, 184, 187, 193


def per_category_row(cat_id, tp, fp, fn, pq, sq, rq, pq_dagger, pc):
    e = CATS.entries[CATS.index_of[cat_id]]
    return {"id": cat_id, "name": e["name"], "isthing": e["isthing"], "tp": tp, "fp": fp,
            "fn": fn, "iou_sum": sq * tp, "pq": pq, "sq": sq, "rq": rq,
            "pq_dagger": pq_dagger, "pc": pc}


def full_report():
    """Every key of the schema, a few COCO categories, one of them (car) absent."""
    rows = [
        per_category_row(PERSON, 40, 10, 12, 0.5812, 0.8013, 0.7253, 0.5812, 0.6622),
        per_category_row(HORSE, 9, 4, 3, 0.4471, 0.7322, 0.6106, 0.4471, 0.5103),
        per_category_row(CAR, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0),
        per_category_row(TREE, 5, 2, 2, 0.6234, 0.8811, 0.7075, 0.7001, 0.7702),
        per_category_row(SKY, 6, 0, 1, 0.8125, 0.9479, 0.8571, 0.9002, 0.9105),
        per_category_row(GRASS, 3, 3, 2, 0.2766, 0.6913, 0.4001, 0.3999, 0.4444),
    ]
    return {
        "All": {"pq": 0.5482, "sq": 0.8108, "rq": 0.6601, "n": 5},
        "Things": {"pq": 0.5142, "sq": 0.7668, "rq": 0.6680, "n": 2},
        "Stuff": {"pq": 0.5708, "sq": 0.8401, "rq": 0.6549, "n": 3},
        "per_class": {r["id"]: {"pq": r["pq"], "sq": r["sq"], "rq": r["rq"]} for r in rows},
        "pq_dagger": {"All": {"pq": 0.6057, "n": 5}, "Things": {"pq": 0.5142, "n": 2},
                      "Stuff": {"pq": 0.6667, "n": 3},
                      "per_class": {r["id"]: {"pq": r["pq_dagger"]} for r in rows}},
        "parsing_covering": {"pc": 0.6595, "n": 5,
                             "per_class": {r["id"]: r["pc"] for r in rows}},
        "pq_by_size": {"small": {"pq": 0.1834, "sq": 0.7122, "rq": 0.2575, "n": 2},
                       "medium": {"pq": 0.4417, "sq": 0.7911, "rq": 0.5583, "n": 2},
                       "large": {"pq": 0.6021, "sq": 0.8342, "rq": 0.7218, "n": 2}},
        "confusion": [
            {"gt_category_id": PERSON, "pred_category_id": HORSE, "count": 7},
            {"gt_category_id": PERSON, "pred_category_id": None, "count": 5},
            {"gt_category_id": GRASS, "pred_category_id": TREE, "count": 2},
            {"gt_category_id": HORSE, "pred_category_id": PERSON, "count": 2},
            {"gt_category_id": HORSE, "pred_category_id": HORSE, "count": 1},
            {"gt_category_id": SKY, "pred_category_id": None, "count": 1},
        ],
        "per_category": rows,
        "bootstrap": {"n": 1000, "confidence": 0.95, "seed": 0,
                      "All": {"pq": [0.5011, 0.5933], "sq": [0.79, 0.83], "rq": [0.61, 0.71]},
                      "Things": {"pq": [0.47, 0.55], "sq": [0.74, 0.79], "rq": [0.6, 0.72]},
                      "Stuff": {"pq": [0.52, 0.62], "sq": [0.81, 0.87], "rq": [0.6, 0.7]}},
        "n_images": 2,
        "per_image": [
            {"image_id": 142238, "file_name": "000000142238.png", "pq": 0.4123, "sq": 0.8,
             "rq": 0.51, "n": 5, "tp": 30, "fp": 10, "fn": 12, "iou_sum": 24.1},
            {"image_id": 439180, "file_name": "000000439180.png", "pq": 0.6612, "sq": 0.82,
             "rq": 0.8, "n": 4, "tp": 33, "fp": 9, "fn": 8, "iou_sum": 27.3},
        ],
        "inputs": {"gt_json_file": "annotations/panoptic_val2017.json",
                   "pred_json_file": "predictions/panoptic.json", "workers": 4},
    }


def sample_worst():
    """The two sample images, GT used as the prediction too; the second one without photo."""
    gt = json.loads((DATA / "panoptic_examples.json").read_text())
    photos = {img["id"]: img["file_name"] for img in gt["images"]}
    worst = []
    for k, ann in enumerate(gt["annotations"]):
        png = str(DATA / "panoptic_examples" / ann["file_name"])
        worst.append({"image_id": ann["image_id"], "file_name": ann["file_name"],
                      "pq": 0.4123 if k == 0 else 0.6612, "tp": 30 + k, "fp": 10 + k,
                      "fn": 12 + k, "gt_png": png, "pred_png": png,
                      "gt_segments": ann["segments_info"], "pred_segments": ann["segments_info"],
                      "image_path": (str(DATA / "input_images" / photos[ann["image_id"]])
                                     if k == 0 else None)})
    return worst


class _Refs(HTMLParser):
    """Collects the tags and every URL-valued attribute of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.urls, self.images = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "srcset", "poster", "data", "action"):
                self.urls.append(value or "")
                if tag == "img" and name == "src":
                    self.images.append((value, dict(attrs)))


def refs(page):
    parser = _Refs()
    parser.feed(page)
    parser.close()
    return parser


def without_footer(page):
    return re.sub(r"<footer>.*?</footer>", "", page, flags=re.S)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report") / "nested" / "out"
    report = full_report()
    index = write_report(folder, report, sample_worst(), CATS, title="Sample <eval> & co")
    return folder, index, report, Path(index).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- files

def test_files_written_and_json_round_trips(written):
    folder, index, report, _ = written
    assert index == os.path.join(str(folder), "index.html")
    assert os.path.isfile(index) and os.path.isfile(folder / "report.json")
    text = (folder / "report.json").read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(json.dumps(report))
    assert text.startswith('{\n "All"')  # indent=1
    assert not [n for n in os.listdir(folder) if n.startswith(".tmp")]  # atomic writes
    assert report == full_report()  # not modified


def test_json_is_strict_and_numpy_values_are_converted(tmp_path):
    report = full_report()
    report["All"]["pq"] = np.float64(0.5)
    report["All"]["n"] = np.int64(5)
    report["per_class"] = {np.int64(PERSON): {"pq": np.float32(0.25), "sq": float("nan"),
                                              "rq": 1.0}}
    report["per_image"][0]["pq"] = float("nan")
    report["bootstrap"]["All"]["pq"] = np.array([0.4, 0.6])
    report["bootstrap"]["Things"]["pq"] = (0.47, 0.55)
    write_report(tmp_path, report, [], CATS)

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    back = json.loads((tmp_path / "report.json").read_text(), parse_constant=no_constants)
    assert back["All"]["pq"] == 0.5 and back["All"]["n"] == 5
    assert back["per_class"][str(PERSON)] == {"pq": 0.25, "sq": None, "rq": 1.0}
    assert back["per_image"][0]["pq"] is None
    assert back["bootstrap"]["All"]["pq"] == [0.4, 0.6]
    assert back["bootstrap"]["Things"]["pq"] == [0.47, 0.55]
    page = (tmp_path / "index.html").read_text()
    assert "40.0-60.0" in page  # the numpy interval is shown too


# ---------------------------------------------------------------------------- content

def test_sections_in_order(written):
    page = written[3]
    ids = ["summary", "per-class", "categories", "confusion", "per-image", "worst"]
    positions = [page.index(f'<section id="{sid}">') for sid in ids]
    assert positions == sorted(positions)
    for heading in ("Summary", "Per-class PQ", "Per-category results", "Confusion",
                    "Per-image PQ", "Worst images"):
        assert f"<h2>{heading}" in page
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_header_title_inputs_and_image_count(written):
    page = written[3]
    assert "<title>Sample &lt;eval&gt; &amp; co</title>" in page
    assert "<h1>Sample &lt;eval&gt; &amp; co</h1>" in page
    assert "Sample <eval>" not in page
    assert "<strong>2</strong> images evaluated" in page
    assert "annotations/panoptic_val2017.json" in page and "predictions/panoptic.json" in page
    assert page.index("panoptic_val2017.json") < page.index('<section id="summary">')


def test_summary_numbers(written):
    page = without_footer(written[3])
    summary = page[page.index('<section id="summary">'):page.index('<section id="per-class">')]
    # PQ / SQ / RQ / N of All, Things, Stuff, with the bootstrap intervals.
    for text in ("54.8", "81.1", "66.0", "51.4", "76.7", "66.8", "57.1", "84.0", "65.5",
                 "50.1-59.3", "79.0-83.0", "47.0-55.0", "52.0-62.0", "95%", "1000 resamples"):
        assert text in summary, text
    assert ">5</td>" in summary and ">2</td>" in summary and ">3</td>" in summary
    # PQ-dagger, Parsing Covering, PQ by size.
    for text in ("PQ\u2020", "60.6", "66.7", "Parsing Covering", "66.0", "small", "medium",
                 "large", "18.3", "71.2", "25.8", "44.2", "60.2", "83.4", "72.2"):
        assert text in summary, text


def test_bar_chart(written):
    page = written[3]
    chart = page[page.index('<section id="per-class">'):page.index('<section id="categories">')]
    assert "<svg" in chart and "</svg>" in chart
    bars = re.findall(r'<g class="bar"><title>([^<]*)</title>', chart)
    # One bar per category with tp + fp + fn > 0 (car is absent), best PQ first.
    names = [t.split(" (")[0] for t in bars]
    assert names == ["sky-other-merged", "tree-merged", "person", "horse", "grass-merged"]
    sky = bars[0]
    assert "PQ 81.2" in sky and "PQ\u2020 90.0" in sky and "PC 91.0" in sky and "stuff" in sky
    assert "thing" in bars[2] and "TP 40, FP 10, FN 12" in bars[2]
    assert "things" in chart and "stuff" in chart  # the legend
    assert chart.count("#3569b4") >= 3 and chart.count("#e08a2c") >= 4  # two colours


def test_category_table(written):
    page = written[3]
    table = page[page.index('<section id="categories">'):page.index('<section id="confusion">')]
    for head in ("id", "name", "kind", "PQ", "SQ", "RQ", "TP", "FP", "FN", "PQ\u2020", "PC", "IoU"):
        assert f">{head}</th>" in table, head
    for name in ("person", "horse", "tree-merged", "sky-other-merged", "grass-merged"):
        assert f"<td>{name}</td>" in table
    row = re.search(r"<tr><td class=\"num\">1</td><td>person</td>.*?</tr>", table).group(0)
    cells = re.findall(r'<td class="num">([^<]*)</td>', row)
    # The report fixture has no semantic numbers: the IoU column shows a dash.
    assert cells == ["1", "58.1", "80.1", "72.5", "40", "10", "12", "58.1", "66.2", "\u2013"]
    # car has no GT and no prediction: named below the table, not in it.
    assert "<td>car</td>" not in table
    assert re.search(r'<details class="absent"><summary>1 category with neither.*car \(3\)',
                     table, re.S)


def test_confusion_table(written):
    page = written[3]
    table = page[page.index('<section id="confusion">'):page.index('<section id="per-image">')]
    rows = re.findall(r"<tr><td>([^<]*)</td><td class=\"arrow\">&rarr;</td><td>(.*?)</td>"
                      r"<td class=\"num\">(\d+)</td><td class=\"num\">([\d.]+)%</td>", table)
    assert rows[0] == ("person", "horse", "7", "58.3")  # 7 of person's 12 misses
    assert rows[1][0] == "person" and "(nothing)" in rows[1][1] and rows[1][3] == "41.7"
    assert rows[2] == ("grass-merged", "tree-merged", "2", "100.0")
    assert rows[4][0] == "horse" and "same class" in rows[4][1] and rows[4][3] == "33.3"
    assert len(rows) == 6


def test_confusion_top_rows_only(tmp_path):
    report = full_report()
    ids = [e["id"] for e in CATS.entries]
    report["confusion"] = [{"gt_category_id": ids[k % 7], "pred_category_id": ids[k + 10],
                            "count": 100 - k} for k in range(45)]
    page = render_report_html(report, [], CATS)
    table = page[page.index('<section id="confusion">'):page.index('<section id="per-image">')]
    assert table.count('<td class="arrow">') == CONFUSION_ROWS
    assert f"{CONFUSION_ROWS} of 45 pairs" in table


def test_confusion_share_uses_false_negatives_when_list_is_cut(tmp_path):
    report = full_report()
    report["confusion"] = [{"gt_category_id": PERSON, "pred_category_id": HORSE, "count": 6}]
    page = render_report_html(report, [], CATS)
    assert '<td class="num">6</td><td class="num">50.0%</td>' in page  # person has FN 12


def test_histogram(written):
    page = written[3]
    hist = page[page.index('<section id="per-image">'):page.index('<section id="worst">')]
    assert "<svg" in hist and "2 images; mean 53.7, median 53.7" in hist
    assert "PQ 40-50: 1 image<" in hist and "PQ 60-70: 1 image<" in hist


def test_worst_images(written):
    page = written[3]
    worst = page[page.index('<section id="worst">'):]
    for text in ("142238", "000000142238.png", "439180", "000000439180.png", "PQ 41.2",
                 "PQ 66.1", "TP 30", "FP 10", "FN 12", "TP 31"):
        assert text in worst, text
    assert worst.index("142238") < worst.index("439180")  # worst first
    images = refs(worst).images
    assert len(images) == 2
    for src, attrs in images:
        assert re.match(r"data:image/(jpeg|png);base64,[A-Za-z0-9+/=]+$", src)
        assert int(attrs["width"]) <= MAX_IMAGE_WIDTH
    # The embedded picture decodes: GT | prediction side by side, scaled to the page.
    import base64
    import io

    picture = Image.open(io.BytesIO(base64.b64decode(images[0][0].split(",", 1)[1])))
    assert picture.width == MAX_IMAGE_WIDTH and 300 < picture.height < 400
    arr = np.asarray(picture.convert("RGB"), np.float64)
    assert arr.std() > 20  # a photo with overlays, not a flat colour
    assert "Could not draw" not in page


def test_self_contained(written):
    page = written[3]
    parsed = refs(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags
    assert "iframe" not in parsed.tags and "object" not in parsed.tags
    for url in parsed.urls:
        assert url.startswith("#") or url.startswith("data:"), url[:80]
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"url\(\s*['\"]?(?!data:)", page)  # no CSS resources
    assert "@import" not in page


def test_everything_escaped(tmp_path):
    cats = [{"id": 1, "name": "<b>person</b>", "isthing": 1, "color": [220, 20, 60]},
            {"id": 2, "name": "sky & \"clouds\"", "isthing": 0, "color": [70, 130, 180]}]
    report = {"All": {"pq": 0.5, "sq": 0.5, "rq": 1.0, "n": 2},
              "per_class": {1: {"pq": 0.4, "sq": 0.8, "rq": 0.5},
                            2: {"pq": 0.6, "sq": 0.6, "rq": 1.0}},
              "confusion": [{"gt_category_id": 1, "pred_category_id": 2, "count": 3}],
              "inputs": {"gt_json_file": "<script>alert(1)</script>.json"}}
    worst = [{"image_id": "<i>7</i>", "file_name": "a<b>.png", "gt_png": str(tmp_path / "x.png"),
              "pred_png": str(tmp_path / "x.png")}]
    page = render_report_html(report, worst, cats, title="<script>")
    assert "<script" not in page and "<b>" not in page and "<i>7" not in page
    assert "&lt;b&gt;person&lt;/b&gt;" in page and "sky &amp; &quot;clouds&quot;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.json" in page
    refs(page)  # parses


# ---------------------------------------------------------------------------- robustness

def test_missing_optional_keys(tmp_path):
    report = {k: v for k, v in full_report().items()
              if k in ("All", "Things", "Stuff", "per_class")}
    index = write_report(tmp_path / "out", report, [], CATS.to_list())
    page = Path(index).read_text()
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == \
        json.loads(json.dumps(report))
    # Names and numbers still come from per_class and the categories.
    for text in ("person", "sky-other-merged", "54.8", "81.2"):
        assert text in page
    assert '<section id="per-image">' not in page  # no per_image: no histogram
    assert "No images to show" in page and "no confusion data" in page
    summary = page[page.index('<section id="summary">'):page.index('<section id="per-class">')]
    assert "PQ\u2020" not in summary and "Parsing Covering" not in summary
    assert "by object size" not in summary and "bootstrap" not in summary
    assert "54.8" in summary


def test_nearly_empty_report(tmp_path):
    for report in ({}, {"All": {}}, {"per_class": {"x": 1}, "per_category": [None, {"id": "z"}]},
                   {"All": {"pq": None, "n": "?"}, "confusion": [{"count": 2}], "per_image": []}):
        index = write_report(tmp_path, report, [], None)
        page = Path(index).read_text()
        assert "<h1>panoseg evaluation</h1>" in page
        refs(page)


def test_per_class_string_keys_as_from_json(tmp_path):
    report = full_report()
    from_json = json.loads(json.dumps(report))
    assert all(isinstance(k, str) for k in from_json["per_class"])
    assert without_footer(render_report_html(report, [], CATS)) == \
        without_footer(render_report_html(from_json, [], CATS))


def test_without_per_category_uses_per_class(tmp_path):
    report = full_report()
    del report["per_category"]
    page = render_report_html(report, [], CATS)
    chart = page[page.index('<section id="per-class">'):page.index('<section id="categories">')]
    # panopticapi's per_class lists absent classes with 0: without counts they get a bar too.
    assert chart.count('<g class="bar">') == 6
    assert "PQ\u2020 90.0" in chart and "PC 91.0" in chart  # from pq_dagger / parsing_covering


def test_broken_image_gets_placeholder(tmp_path):
    worst = sample_worst()
    broken = dict(worst[0], image_id=999, file_name="gone.png",
                  gt_png=str(tmp_path / "gone.png"))
    bad_photo = dict(worst[1], image_path=str(tmp_path / "no_photo.jpg"))
    no_paths = {"image_id": 5, "file_name": "x.png", "pq": 0.1}
    index = write_report(tmp_path / "out", full_report(), [broken, worst[0], bad_photo,
                                                           no_paths, "junk"], CATS)
    page = Path(index).read_text()
    worst_html = page[page.index('<section id="worst">'):]
    assert worst_html.count('class="placeholder"') == 3
    assert "Could not draw this image: ground-truth PNG not found" in worst_html
    assert "gone.png" in worst_html and "no gt_png / pred_png path given" in worst_html
    # A missing photo falls back to grey, with a note.
    assert "no_photo.jpg not usable" in worst_html and "drawn on grey" in worst_html
    assert len(refs(worst_html).images) == 2


def test_many_categories_and_page_size(tmp_path):
    rng = np.random.default_rng(0)
    report = full_report()
    rows = []
    for e in CATS.entries:
        tp, fp, fn = (int(v) for v in rng.integers(0, 50, 3))
        pq = float(rng.random())
        rows.append({"id": e["id"], "name": e["name"], "isthing": e["isthing"], "tp": tp,
                     "fp": fp, "fn": fn, "iou_sum": 0.0, "pq": pq, "sq": pq, "rq": 1.0,
                     "pq_dagger": pq, "pc": pq})
    report["per_category"] = rows
    report["per_class"] = {str(r["id"]): {"pq": r["pq"], "sq": r["sq"], "rq": r["rq"]}
                           for r in rows}
    worst = (sample_worst() * 4)[:8]
    index = write_report(tmp_path, report, worst, CATS)
    page = Path(index).read_text()
    n_present = sum(1 for r in rows if r["tp"] + r["fp"] + r["fn"] > 0)
    assert page.count('<g class="bar">') == n_present > 120
    values = [float(v) for v in re.findall(r'<text class="val"[^>]*>([\d.]+)</text>',
                                           page.split('<section id="categories">')[0])]
    assert values == sorted(values, reverse=True)
    assert len(refs(page).images) == 8
    assert os.path.getsize(index) < 5e6


# ---------------------------------------------------------------------------- in a browser

def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_renders_in_headless_chromium(written, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium installed (apt-get install chromium)")
    index = written[1]
    shot = tmp_path / "shot.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
           "--window-size=1280,4000", Path(index).resolve().as_uri()]
    try:
        subprocess.run(cmd, capture_output=True, timeout=180, check=False,
                       env=dict(os.environ, HOME=str(tmp_path)))
    except subprocess.TimeoutExpired:
        pass  # some builds linger after writing the screenshot
    if not shot.is_file():
        pytest.skip("chromium could not take a screenshot here")
    with Image.open(shot) as im:
        assert im.size == (1280, 4000)
        arr = np.asarray(im.convert("RGB"), np.float64)
    assert arr.std() > 10  # not blank
    colours = np.unique(arr[::4, ::4].reshape(-1, 3), axis=0)
    assert len(colours) > 200  # text, charts and photos, not a flat page
    # The two chart colours are on screen (the bars of things and stuff).
    for rgb in ((0x35, 0x69, 0xb4), (0xe0, 0x8a, 0x2c)):
        assert (np.abs(arr - rgb).sum(axis=2) < 6).sum() > 500


# ---------------------------------------------------------------------------- templates

REPORT_PACKAGE = Path(__file__).resolve().parents[1] / "panoseg" / "report"


def _template_files():
    import importlib.resources

    folder = importlib.resources.files("panoseg.report") / "templates"
    return {entry.name: entry for entry in folder.iterdir() if entry.is_file()}


def _report_modules():
    return sorted(REPORT_PACKAGE.glob("*.py"))


def test_templates_are_package_files():
    files = _template_files()
    assert {"report.html", "report.css", "section.html"} <= set(files)
    for name, entry in files.items():
        assert entry.read_text(encoding="utf-8").strip(), name
    # Every template the code names exists, and every file is used by some module.
    used = set()
    for path in _report_modules():
        used |= set(re.findall(r"""render\(\s*["']([\w.]+)["']""", path.read_text()))
    assert used - set(files) == set()
    assert set(files) - used == set()


def _string_literals(path):
    """The module's string constants (f-string parts included), docstrings left out."""
    import ast

    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


def test_no_markup_or_css_in_python():
    for path in _report_modules():
        text = path.read_text()
        assert "<html" not in text and "<style" not in text, path.name
        assert not re.search(r"\{[^}]*font-family", text), path.name
        for line, value in _string_literals(path):
            where = f"{path.name}:{line}: {value[:60]!r}"
            assert not re.search(r"</?[A-Za-z!]", value), where  # a tag: belongs in a template
            assert not re.search(r"[\w\]]\s*\{[^}]*:[^}]*;", value), where  # a CSS rule


def test_template_placeholders_are_checked():
    from panoseg.report import templates

    assert templates.load("note.html") is templates.load("note.html")  # read once
    assert templates.render("note.html", text="a &amp; b") == '<p class="note">a &amp; b</p>'
    with pytest.raises(KeyError, match=r"\$text"):
        templates.render("note.html")
    with pytest.raises(TypeError, match=r"\$txt"):
        templates.render("note.html", text="x", txt="y")
    with pytest.raises(KeyError, match=r"\$style"):
        templates.render("report.html", title="t", header="", nav="", sections="", footer="")


def test_page_inlines_the_stylesheet_file(written):
    from panoseg.report.charts import STUFF_COLOR, THING_COLOR

    page = written[3]
    css = _template_files()["report.css"].read_text(encoding="utf-8").rstrip("\n")
    assert "$thing_color" in css and "font:" in css
    css = css.replace("$thing_color", THING_COLOR).replace("$stuff_color", STUFF_COLOR)
    assert f"<style>\n{css}\n</style>" in page
    assert page.count("<style>") == 1 and "$" not in page.split("</style>")[0]


def test_groups_without_categories_show_a_dash(tmp_path):
    report = full_report()
    report["Stuff"] = {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}
    report["pq_by_size"]["large"] = {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}
    report["pq_dagger"]["Stuff"] = {"pq": 0.0, "n": 0}
    page = render_report_html(report, [], CATS)
    summary = page[page.index('<section id="summary">'):page.index('<section id="per-class">')]
    dash = "\u2013"
    stuff_rows = re.findall(r"<tr><th>Stuff</th>(.*?)</tr>", summary)
    assert len(stuff_rows) == 2  # PQ and PQ-dagger cards
    pq_row = re.findall(r'<td class="num">([^<]*)', stuff_rows[0])
    assert pq_row == [dash, dash, dash, "0"]  # no bootstrap interval for an empty group
    assert re.findall(r'<td class="num">([^<]*)', stuff_rows[1]) == [dash, "0"]
    large = re.search(r"<tr><th>large</th>(.*?)</tr>", summary).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', large) == [dash, dash, dash, "0"]
    assert f'<div class="v">{dash}</div><div class="k">PQ Stuff</div>' in summary
    # Groups with categories keep their numbers.
    assert '<div class="v">51.4</div><div class="k">PQ Things</div>' in summary
    assert re.search(r"<tr><th>medium</th><td class=\"num\">44.2</td>", summary)
