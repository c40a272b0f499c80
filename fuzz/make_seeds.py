"""Writes the seed corpus of every harness into fuzz/corpus/<harness>/ (deterministic: run it
again after changing it and commit the result; needs numpy and panoseg importable).

Seeds: the COCO sample of tests/data (PNGs, crops of them for the eval kernel, the JSONs, RLEs
of its segments), plus the regression cases of issue 11 (``reg-*`` files): PNG headers of
absurd sizes, a decompression bomb, interlacing, chunk order, filter method 1; RLEs of absurd
sizes; deeply nested and mistyped JSON.
"""
import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = os.path.join(ROOT, "tests", "data")
SAMPLE = os.path.join(DATA, "coco_panoptic_sample")
PRED = os.path.join(DATA, "sample_prediction")
sys.path.insert(0, HERE)

import fuzz_eval  # noqa: E402  (the eval input format)
import fuzz_png_files  # noqa: E402  (the png_files input format)

from panoseg import _core  # noqa: E402

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def ihdr(width, height, depth=8, color=2, compression=0, filter_method=0, interlace=0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, compression,
                                      filter_method, interlace))


def scanlines(rgb: np.ndarray) -> bytes:
    """Filter type 0 (None) scanlines of an HxWx3 uint8 image."""
    return b"".join(b"\x00" + row.tobytes() for row in rgb)


def png(rgb: np.ndarray, **header) -> bytes:
    h, w = rgb.shape[:2]
    return (SIGNATURE + ihdr(w, h, **header) + chunk(b"IDAT", zlib.compress(scanlines(rgb), 9))
            + chunk(b"IEND", b""))


def interlaced_png(rgb: np.ndarray) -> bytes:
    h, w = rgb.shape[:2]
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2))
    raw = b"".join(scanlines(rgb[y0::dy, x0::dx]) for x0, y0, dx, dy in passes
                   if x0 < w and y0 < h)
    return (SIGNATURE + ihdr(w, h, interlace=1) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def read_rgb(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def ids_of(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.uint32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def rgb_of(ids: np.ndarray) -> np.ndarray:
    return np.stack([ids & 255, (ids >> 8) & 255, (ids >> 16) & 255], -1).astype(np.uint8)


def column_runs_rle(mask: np.ndarray) -> list:
    """Uncompressed COCO RLE counts of an HxW bool mask (column-major, starting with zeros)."""
    flat = mask.T.reshape(-1).astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.r_[0, change, flat.size]
    counts = np.diff(bounds).tolist()
    return ([0] + counts) if flat.size and flat[0] else counts


def write(corpus: dict) -> None:
    out = os.path.join(HERE, "corpus")
    shutil.rmtree(out, ignore_errors=True)
    total = 0
    for harness, seeds in corpus.items():
        os.makedirs(os.path.join(out, harness))
        for name, data in seeds.items():
            with open(os.path.join(out, harness, name), "wb") as f:
                f.write(data)
            total += len(data)
    print(f"wrote {sum(map(len, corpus.values()))} seeds, {total / 1024:.0f} KiB, under {out}")


def png_seeds() -> dict:
    seeds = {}
    folder = os.path.join(SAMPLE, "panoptic_examples")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            seeds[f"sample-{name}"] = f.read()
    rgb = read_rgb(os.path.join(SAMPLE, "panoptic_examples", "000000142238.png"))[100:132, 200:248]
    seeds["crop-32x48.png"] = png(rgb)
    idat = chunk(b"IDAT", zlib.compress(scanlines(rgb[:1, :1]), 9))
    iend = chunk(b"IEND", b"")
    # Absurd sizes: the header is checked before anything is allocated or inflated.
    seeds["reg-width-4294967295.png"] = SIGNATURE + ihdr(4294967295, 1) + idat + iend
    seeds["reg-width-100000000.png"] = SIGNATURE + ihdr(100000000, 1) + idat + iend
    # A decompression bomb: a 64x64 header (12352 bytes of image data) over a stream that
    # inflates to 8 MB (deflate compresses at most ~1032:1, so 8 MB is what fits in ~8 KB).
    bomb = zlib.compress(bytes(8 << 20), 9)
    seeds["reg-bomb-64x64-8MB.png"] = SIGNATURE + ihdr(64, 64) + chunk(b"IDAT", bomb) + iend
    seeds["reg-interlaced.png"] = interlaced_png(rgb[:13, :11])
    one = rgb[:4, :4]
    one_idat = chunk(b"IDAT", zlib.compress(scanlines(one), 9))
    seeds["reg-idat-before-ihdr.png"] = SIGNATURE + one_idat + ihdr(4, 4) + iend
    seeds["reg-ihdr-after-idat.png"] = SIGNATURE + ihdr(4, 4) + one_idat + ihdr(4, 4) + iend
    seeds["reg-filter-method-1.png"] = png(one, filter_method=1)
    return seeds


def eval_seeds() -> dict:
    with open(os.path.join(SAMPLE, "panoptic_examples.json")) as f:
        gt_json = json.load(f)
    with open(os.path.join(PRED, "panoptic_pred.json")) as f:
        pred_json = json.load(f)
    cat_index = {c["id"]: k for k, c in enumerate(gt_json["categories"])}
    isthing = [int(c["isthing"]) for c in gt_json["categories"]]
    pred_by_file = {a["file_name"]: a for a in pred_json["annotations"]}
    seeds = {}
    for ann in gt_json["annotations"]:
        name = ann["file_name"]
        gt = ids_of(read_rgb(os.path.join(SAMPLE, "panoptic_examples", name)))
        pred = ids_of(read_rgb(os.path.join(PRED, "panoptic_pred", name)))
        pred_ann = pred_by_file[name]
        for k, (y, x, h, w) in enumerate(((0, 0, 24, 32), (150, 250, 40, 40), (300, 100, 16, 64))):
            g, p = gt[y:y + h, x:x + w], pred[y:y + h, x:x + w]
            gt_rows = [(s["id"], cat_index[s["category_id"]], s["iscrowd"],
                        float((g == s["id"]).sum()))
                       for s in ann["segments_info"] if (g == s["id"]).any()]
            pred_rows = [(s["id"], cat_index[s["category_id"]])
                         for s in pred_ann["segments_info"] if (p == s["id"]).any()]
            seeds[f"crop{k}-{name}.bin"] = fuzz_eval.encode(
                h, w, len(isthing), gt_rows, pred_rows, scanlines(rgb_of(g)),
                scanlines(rgb_of(p)), isthing if k != 1 else None)
    return seeds


def rle_seeds() -> dict:
    with open(os.path.join(SAMPLE, "panoptic_examples.json")) as f:
        ann = json.load(f)["annotations"][0]
    gt = ids_of(read_rgb(os.path.join(SAMPLE, "panoptic_examples", ann["file_name"])))
    g = gt[:40, :56]
    h, w = g.shape
    rles = [{"size": [h, w], "counts": column_runs_rle(g == s)} for s in np.unique(g)[:4]]
    seeds = {"sample-uncompressed.json": json.dumps(rles).encode()}
    sys.path.insert(0, ROOT)
    from panoseg.io import rle as rle_io

    compressed = [{"size": [h, w], "counts": rle_io.intervals_to_rles(
        *__import__("panoseg._core", fromlist=["x"]).rle_intervals(
            [np.array(r["counts"], np.uint32)], h, w), h, w)[0]["counts"]} for r in rles]
    seeds["sample-compressed.json"] = json.dumps(compressed).encode()
    seeds["sample-raw.bin"] = bytes([h, w]) + compressed[0]["counts"].encode()
    seeds["reg-size-2pow62x4.json"] = json.dumps(
        {"size": [2 ** 62, 4], "counts": [0, 2 ** 31, 2 ** 31]}).encode()
    seeds["reg-size-2pow62x4-compressed.json"] = json.dumps(
        {"size": [2 ** 62, 4], "counts": "0O1"}).encode()
    seeds["reg-size-4294967295x1.json"] = json.dumps(
        {"size": [4294967295, 1], "counts": [0, 4294967295]}).encode()
    return seeds


def json_seeds() -> dict:
    with open(os.path.join(SAMPLE, "panoptic_examples.json"), "rb") as f:
        sample = f.read()
    doc = json.loads(sample)
    seeds = {"sample-panoptic_examples.json": sample}
    cats = doc["categories"]
    # A merge input: categories, images, and results with RLE segmentations and scores.
    thing = next(c for c in cats if c["isthing"])
    stuff = next(c for c in cats if not c["isthing"])
    mask = np.zeros((6, 8), bool)
    mask[1:4, 2:6] = True
    merge_doc = {
        "categories": cats[:3] + [thing, stuff] if thing not in cats[:3] else cats[:3] + [stuff],
        "images": [{"id": 1, "file_name": "a.jpg", "height": 6, "width": 8}],
        "annotations": [{"image_id": 1, "category_id": thing["id"], "score": 0.9,
                         "segmentation": {"size": [6, 8], "counts": column_runs_rle(mask)}},
                        {"image_id": 1, "category_id": stuff["id"], "score": 1.0,
                         "segmentation": {"size": [6, 8], "counts": column_runs_rle(~mask)}}],
    }
    seeds["merge-inputs.json"] = json.dumps(merge_doc).encode()
    seeds["reg-nested-100000.json"] = b"[" * 100000
    # Nested just under the stdlib parser's depth limit: its error once depended on the
    # caller's stack depth (the fuzzing of CI found it).
    seeds["reg-nested-983-then-error.json"] = b"[" * 983 + b"x" + b"[" * 7200
    small = {"categories": cats[:2], "images": [{"id": 1, "height": 427, "width": 640}],
             "annotations": [{"image_id": 1, "file_name": "1.png", "segments_info": [
                 {"id": 1, "category_id": cats[0]["id"], "area": 3, "iscrowd": 0}]}]}

    def variant(name, change):
        d = json.loads(json.dumps(small))
        change(d)
        seeds[f"reg-{name}.json"] = json.dumps(d).encode()

    variant("image_id-list", lambda d: d["annotations"][0].update(image_id=[1]))
    variant("image_id-dict", lambda d: d["annotations"][0].update(image_id={"a": 1}))
    variant("file_name-null", lambda d: d["annotations"][0].update(file_name=None))
    variant("file_name-int", lambda d: d["annotations"][0].update(file_name=7))
    variant("segment-id-list", lambda d: d["annotations"][0]["segments_info"][0].update(id=[1]))
    variant("height-string", lambda d: d["images"][0].update(height="427"))
    variant("merge-height-string", lambda d: (d.update(merge_doc), d["images"][0].update(
        height="427")))
    return seeds


def merge_seeds() -> dict:
    seeds = {}
    h, w = 6, 8
    head = struct.pack("<4BffQ", h - 1, w - 1, 2, 0, 0.5, 4.0, 0) + bytes([0, 230, 1, 200])
    masks = np.zeros((2, h, w), np.uint8)
    masks[0, 1:4, 1:5] = 1
    masks[1, 2:6, 3:8] = 1
    labels = np.full((h, w), 2, np.uint8)
    labels[:, :3] = 3
    raw = np.array([0, 5, 10, 20, 3, 8, 30, 40], np.int64).tobytes()
    seeds["dense.bin"] = head + masks.tobytes() + raw
    seeds["rle-semantic.bin"] = head[:3] + bytes([3]) + head[4:] + masks.tobytes() \
        + labels.tobytes() + raw
    return seeds


def paste_seeds() -> dict:
    rng = np.random.default_rng(0)
    seeds = {}
    for k, (n, m, h, w, flags) in enumerate(((1, 14, 20, 30, 1), (3, 8, 47, 47, 5))):
        boxes = np.array([[2.5, 3.0, 15.0, 12.25], [-4, -4, 60, 60], [10, 10, 10.5, 30]],
                         np.float32)[:n]
        probs = rng.random((n, m, m), dtype=np.float32)
        seeds[f"sample{k}.bin"] = bytes([n, m - 1, h - 1, w - 1, flags]) + boxes.tobytes() \
            + probs.tobytes()
    return seeds


def fixed_huffman_zeros(total: int, cut: bool, last: int = 0) -> bytes:
    """A zlib stream of ``total`` zero bytes in one fixed-Huffman block: a literal, distance-1
    matches, last a match of ``last`` bytes (3..258) or with ``last`` 0 a literal; ``cut``:
    the stream ends right after that last code (no end-of-block code, no Adler-32), else it is
    complete."""
    acc = n = 0
    out = bytearray()

    def put(value, nbits):
        nonlocal acc, n
        acc |= value << n
        n += nbits
        while n >= 8:
            out.append(acc & 255)
            acc >>= 8
            n -= 8

    def huff(code, nbits):  # Huffman codes go MSB first
        put(int(format(code, f"0{nbits}b")[::-1], 2), nbits)

    put(1, 1)  # BFINAL
    put(1, 2)  # fixed Huffman
    bases = (3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
             99, 115, 131, 163, 195, 227)
    extra = (0,) * 8 + (1,) * 4 + (2,) * 4 + (3,) * 4 + (4,) * 4 + (5,) * 4
    lengths, left = [], total - 1 - (last or 1)  # what the matches between first and last write
    while left > 0:
        length = min(258, left)
        if left - length in (1, 2):
            length -= 3
        lengths.append(length)
        left -= length
    huff(0x30, 8)  # literal 0
    for length in lengths + ([last] if last else []):
        if length == 258:
            huff(0xC5, 8)  # code 285
        else:
            k = max(i for i in range(28) if bases[i] <= length)
            code = 257 + k
            huff(code - 256, 7) if code < 280 else huff(0xC0 + code - 280, 8)
            put(length - bases[k], extra[k])
        huff(0, 5)  # distance 1
    if not last:
        huff(0x30, 8)  # the last literal 0
    if not cut:
        huff(0, 7)  # end of block
    if n:
        out.append(acc & 255)
    tail = b"" if cut else struct.pack(">I", zlib.adler32(bytes(total)))
    return b"\x78\x01" + bytes(out) + tail


def png_files_seeds() -> dict:
    """GT / prediction pairs of crops of the COCO sample (panoseg's and stdlib zlib encodings,
    IDAT split, stored blocks), their variants with the header flags, and regression cases."""
    seeds = {}
    encode = fuzz_png_files.encode
    for name in sorted(os.listdir(os.path.join(SAMPLE, "panoptic_examples"))):
        gt = ids_of(read_rgb(os.path.join(SAMPLE, "panoptic_examples", name)))
        pred = ids_of(read_rgb(os.path.join(PRED, "panoptic_pred", name)))
        stem = name[:-4]
        for k, (y, x, h, w) in enumerate(((0, 0, 24, 32), (150, 250, 40, 40), (300, 100, 9, 64))):
            g, p = rgb_of(gt[y:y + h, x:x + w]), rgb_of(pred[y:y + h, x:x + w])
            flags = (0, 1 | 2 | 128, 2 | 64)[k]
            seeds[f"crop{k}-{stem}.bin"] = encode(png(g), png(p), flags, 4)
        g, p = rgb_of(gt[:20, :30]), rgb_of(pred[:20, :30])
        split = SIGNATURE + ihdr(30, 20) + b"".join(
            chunk(b"IDAT", part) for part in (lambda s: [s[:7], b"", s[7:50], s[50:]])(
                zlib.compress(scanlines(p), 6))) + chunk(b"IEND", b"")
        seeds[f"split-{stem}.bin"] = encode(png(g), split, 1, 2)
        stored = SIGNATURE + ihdr(30, 20) + chunk(b"IDAT", zlib.compress(scanlines(g), 0)) \
            + chunk(b"tEXt", b"after\0idat") + chunk(b"IEND", b"") + b"trailing"
        seeds[f"stored-{stem}.bin"] = encode(stored, png(p), 16, 0)
    one = rgb_of(np.arange(12, dtype=np.uint32).reshape(3, 4))
    raw = scanlines(one)
    good = png(one)
    seeds["reg-interlaced.bin"] = encode(interlaced_png(one), good)
    seeds["reg-wrong-adler32.bin"] = encode(good, SIGNATURE + ihdr(4, 3) + chunk(
        b"IDAT", zlib.compress(raw, 9)[:-1] + b"\x00") + chunk(b"IEND", b""))
    seeds["reg-no-adler32.bin"] = encode(good, SIGNATURE + ihdr(4, 3) + chunk(
        b"IDAT", zlib.compress(raw, 9)[:-4]) + chunk(b"IEND", b""))
    seeds["reg-pred-size.bin"] = encode(good, png(one[:, :3]))
    # Needless fallbacks of the core's reader (tests/test_png_read_core.py): streams cut right
    # after their last code, which zlib-ng decodes at the end of a piece (no room to write it),
    # all input then consumed. For the core's pieces (PNG_PIECE_BYTES) and for 64 KB ones.
    for piece in sorted({_core.PNG_PIECE_BYTES, 65536}):
        rows = piece // 61 + 1  # 20 wide: the last row alone in the last piece
        zeros = png(np.zeros((rows, 20, 3), np.uint8))
        seeds[f"reg-cut-after-last-code-20x{rows}.bin"] = encode(
            SIGNATURE + ihdr(20, rows) + chunk(b"IDAT", fixed_huffman_zeros(rows * 61, True, 100))
            + chunk(b"IEND", b""), zeros)
        wide = png(np.zeros((1, piece, 3), np.uint8))  # 3 pieces and 1 byte
        seeds[f"reg-cut-after-last-literal-{piece}x1.bin"] = encode(
            wide, SIGNATURE + ihdr(piece, 1) + chunk(b"IDAT", fixed_huffman_zeros(3 * piece + 1,
                                                                                  True))
            + chunk(b"IEND", b""), 1, 0)
    return seeds


if __name__ == "__main__":
    write({"png": png_seeds(), "eval": eval_seeds(), "rle": rle_seeds(), "json": json_seeds(),
           "merge": merge_seeds(), "paste": paste_seeds(), "png_files": png_files_seeds()})
