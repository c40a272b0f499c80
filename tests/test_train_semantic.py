"""Tests of ``panoseg train-semantic``: PSPNet-ResNet50 on COCO panoptic stuff (MXNet, CPU).

A tiny generated dataset (4 training + 2 validation images of about 64x80 pixels, a few COCO
stuff and thing categories) is trained for 2 epochs x 2 steps, resumed for one more epoch and
loaded back the way the predictor loads it. Nothing is downloaded (``pretrained_base=False``).
"""
import json
import os
import re
import shutil
import sys

import numpy as np
import pytest

mx = pytest.importorskip("mxnet")
pytest.importorskip("gluoncv")

from PIL import Image  # noqa: E402

from panoseg import PanopticFormatError  # noqa: E402
from panoseg.cli.train import MISSING_MXNET  # noqa: E402
from panoseg.infer import checkpoint as ckpt  # noqa: E402
from panoseg.infer import training  # noqa: E402
from panoseg.semantic.label_maps import coco_stuff_classes  # noqa: E402
from panoseg.io.png import read_ids  # noqa: E402
from panoseg.testing.synthetic import default_categories, make_dataset  # noqa: E402

CROP, BASE, BATCH, LR = 64, 72, 2, 0.01
SUBSET = ("person", "car", "dog", "sky-other-merged", "grass-merged", "road", "tree-merged",
          "wall-other-merged")
NCLASS = 54  # COCO: 53 stuff + "thing"


# ------------------------------------------------------------------------------ data

def make_split(root, n_images, seed):
    """A COCO panoptic split in ``root``: images/, gt.json (COCO's 133 categories), gt/."""
    cats = default_categories()
    subset = [c for c in cats if c["name"] in SUBSET]
    ds = make_dataset(root, n_images=n_images, height=(56, 72), width=(64, 88), seed=seed,
                      categories=subset, n_stuff=(2, 3), n_things=(1, 3), void_frac=0.05)
    data = json.loads(open(ds.gt_json).read())
    data["categories"] = cats  # the full COCO list: 54 classes, as a real run
    with open(ds.gt_json, "w") as f:
        json.dump(data, f)
    colour = {c["id"]: c["color"] for c in cats}
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    for image, ann in zip(data["images"], data["annotations"]):
        ids = read_ids(os.path.join(ds.gt_folder, ann["file_name"]))
        photo = np.zeros(ids.shape + (3,), np.int64) + 128
        for seg in ann["segments_info"]:
            photo[ids == seg["id"]] = colour[seg["category_id"]]
        photo = np.clip(photo + rng.integers(-20, 21, photo.shape), 0, 255).astype(np.uint8)
        Image.fromarray(photo).save(os.path.join(root, "images", image["file_name"]), quality=95)
    return {"images": os.path.join(root, "images"), "json": ds.gt_json, "folder": ds.gt_folder}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_semantic")
    yield {"root": root, "train": make_split(str(root / "train"), 4, seed=1),
           "val": make_split(str(root / "val"), 2, seed=2)}
    shutil.rmtree(root, ignore_errors=True)  # checkpoints: ~400 MB each


@pytest.fixture
def scratch(tmp_path):
    """tmp_path, deleted after the test (pytest keeps old ones; checkpoints are large)."""
    yield tmp_path
    shutil.rmtree(tmp_path, ignore_errors=True)


def train(data, out_dir, **kwargs):
    options = dict(val_images=data["val"]["images"], val_json=data["val"]["json"],
                   out_dir=str(out_dir), prefix="psp", ctx="cpu", epochs=2, batch_size=BATCH,
                   lr=LR, crop_size=CROP, base_size=BASE, seed=0, max_iters_per_epoch=2,
                   workers=2, progress=False)
    options.update(kwargs)
    return training.train_semantic(data["train"]["images"], data["train"]["json"],
                                   data["train"]["folder"], **options)


@pytest.fixture(scope="module")
def trained(data):
    out_dir = data["root"] / "run"
    return out_dir, train(data, out_dir)


@pytest.fixture(scope="module")
def resumed(data, trained):
    out_dir, _ = trained
    return out_dir, train(data, out_dir, epochs=3, resume="auto")


def poly(step, total):
    return LR * (1 - step / (total - 1)) ** 0.9


# ------------------------------------------------------------------------------ training

def test_training_writes_checkpoints_and_sidecars(trained, data):
    out_dir, result = trained
    names = sorted(os.listdir(out_dir))
    assert names == sorted(f"psp-{tag}.{ext}" for tag in ("0001", "0002", "best")
                           for ext in ("params", "states", "json"))  # no temporary file left
    assert result.checkpoint == str(out_dir / "psp-0002.params")
    assert result.best_checkpoint == str(out_dir / "psp-best.params")
    assert (result.epoch, result.iteration) == (2, 4)
    assert [h["iteration"] for h in result.history] == [1, 2, 3, 4]
    assert [h["epoch"] for h in result.history] == [1, 1, 2, 2]
    # poly learning rate over 2 epochs x 2 steps, set before each step
    np.testing.assert_allclose([h["lr"] for h in result.history],
                               [poly(i, 4) for i in range(4)], rtol=1e-12)
    assert all(np.isfinite(h["loss"]) and h["loss"] > 0 for h in result.history)

    spec = ckpt.read_checkpoint_spec(result.checkpoint)
    names, ids = coco_stuff_classes()
    assert spec["format"] == "panoseg-semantic-checkpoint" and spec["version"] == 1
    assert spec["model"] == "psp_resnet50" and spec["backbone"] == "resnet50"
    assert spec["nclass"] == NCLASS and spec["classes"] == names
    assert spec["category_ids"] == ids.tolist() and spec["category_ids"][-1] == 0
    assert spec["classes"][-1] == "thing" and spec["label_map"] == "coco-stuff"
    assert (spec["crop_size"], spec["base_size"], spec["aux"]) == (CROP, BASE, True)
    assert spec["mean"] == [0.485, 0.456, 0.406] and spec["std"] == [0.229, 0.224, 0.225]
    assert (spec["epoch"], spec["iteration"]) == (2, 4)
    args = spec["args"]
    assert (args["epochs"], args["batch_size"], args["lr"], args["seed"]) == (2, BATCH, LR, 0)
    assert args["train_json"] == data["train"]["json"] and args["ctx"] == ["cpu(0)"]
    first = ckpt.read_checkpoint_spec(out_dir / "psp-0001.params")
    assert (first["epoch"], first["iteration"]) == (1, 2)
    best = ckpt.read_checkpoint_spec(result.best_checkpoint)
    assert best["miou"] == best["best_miou"] == result.best_miou


def test_validation_miou_is_a_fraction(trained):
    _, result = trained
    assert [v["epoch"] for v in result.validations] == [1, 2]
    for v in result.validations:
        assert isinstance(v["miou"], float) and 0.0 <= v["miou"] <= 1.0
    assert result.best_miou == max(v["miou"] for v in result.validations)
    assert result.miou == result.validations[-1]["miou"]


def test_resume_continues_epoch_step_and_learning_rate(data, resumed, trained):
    out_dir, result = resumed
    assert result.resumed_from == str(out_dir / "psp-0002.params")
    assert (result.epoch, result.iteration) == (3, 6)
    assert [h["iteration"] for h in result.history] == [5, 6]
    assert [h["epoch"] for h in result.history] == [3, 3]
    # the poly curve of the new total (3 epochs x 2 steps), from step 4 on
    np.testing.assert_allclose([h["lr"] for h in result.history], [poly(4, 6), poly(5, 6)],
                               rtol=1e-12)
    spec = ckpt.read_checkpoint_spec(result.checkpoint)
    assert result.checkpoint == str(out_dir / "psp-0003.params")
    assert (spec["epoch"], spec["iteration"]) == (3, 6)
    assert spec["best_miou"] == result.best_miou >= trained[1].best_miou
    assert ckpt.latest_checkpoint(out_dir, "psp") == result.checkpoint
    before = mx.nd.load(str(out_dir / "psp-0002.params"))
    after = mx.nd.load(result.checkpoint)
    assert set(before) == set(after)
    assert any(not np.array_equal(before[k].asnumpy(), after[k].asnumpy()) for k in before)
    # nothing left to do: returns at once, writes nothing
    done = train(data, out_dir, epochs=3, resume="auto")
    assert (done.epoch, done.iteration, done.history) == (3, 6, [])


def test_resume_reproduces_an_uninterrupted_run(data, trained, scratch):
    """Resuming from epoch 1 gives the same epoch 2 (parameters, momentum, LR, data order)."""
    out_dir, _ = trained
    result = train(data, scratch, resume=str(out_dir / "psp-0001.params"))
    assert (result.epoch, result.iteration) == (2, 4)
    want = mx.nd.load(str(out_dir / "psp-0002.params"))
    got = mx.nd.load(result.checkpoint)
    assert set(want) == set(got)
    for k in want:
        np.testing.assert_allclose(got[k].asnumpy(), want[k].asnumpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=k)


def test_several_contexts_split_the_batch_and_keep_last(data, scratch):
    """Two CPU contexts stand in for two GPUs: split batches, kvstore, its trainer states."""
    result = train(data, scratch, ctx=[mx.cpu(0), mx.cpu(1)], max_iters_per_epoch=1,
                   keep_last=1, val_images=None, val_json=None)
    assert (result.epoch, result.iteration) == (2, 2)
    assert sorted(os.listdir(scratch)) == ["psp-0002.json", "psp-0002.params", "psp-0002.states"]
    spec = ckpt.read_checkpoint_spec(result.checkpoint)
    assert spec["args"]["ctx"] == ["cpu(0)", "cpu(1)"]
    assert spec["miou"] is None and spec["best_miou"] is None and result.best_checkpoint is None


def test_checkpoint_loads_in_the_predictor_path(resumed):
    _, result = resumed
    spec = ckpt.read_checkpoint_spec(result.checkpoint)
    net = ckpt.build_semantic_net(spec, mx.cpu())
    net.load_parameters(result.checkpoint, ctx=mx.cpu())
    x = mx.nd.random.uniform(shape=(2, 3, CROP, CROP))
    out = net(x)
    assert isinstance(out, (tuple, list)) and len(out) == 2
    assert out[0].shape == (2, NCLASS, CROP, CROP) and out[1].shape == (2, NCLASS, CROP, CROP)
    assert np.isfinite(out[0].asnumpy()).all()


def test_checkpoint_predicts_through_semantic_predictor(resumed):
    """What `panoseg infer --semantic-model CKPT.params` does: the sidecar defines the net and
    its coco-stuff label map (53 stuff categories + "thing" -> no stuff)."""
    from panoseg.infer import SemanticPredictor
    from panoseg.semantic.label_maps import coco_stuff_classes

    _, result = resumed
    pred = SemanticPredictor(result.checkpoint)
    assert (pred.label_map, pred.n_classes, pred.crop_size) == ("coco-stuff", NCLASS, CROP)
    image = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    labels = pred.predict(image)
    assert labels.shape == (50, 70) and 0 <= labels.min() and labels.max() < NCLASS
    _, category_ids = coco_stuff_classes()
    assert np.array_equal(pred.to_categories(labels), category_ids[labels])
    # the same file given as --semantic-weights is recognized by its sidecar too
    assert SemanticPredictor("psp_resnet50_ade", result.checkpoint).label_map == "coco-stuff"


# ------------------------------------------------------------------------------ CLI

def run_cli(argv, capsys):
    """``panoseg train-semantic`` through the package's CLI entry point."""
    from panoseg import cli

    code = cli.main(["train-semantic"] + argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_trains_with_backbone_weights(data, scratch, capsys):
    from gluoncv.model_zoo.resnetv1b import resnet50_v1s

    backbone = resnet50_v1s(pretrained=False, dilated=True)  # stands in for ImageNet weights
    mx.random.seed(3)
    backbone.initialize(mx.init.Xavier())
    backbone(mx.nd.zeros((1, 3, 32, 32)))
    backbone.save_parameters(str(scratch / "resnet50_v1s.params"))
    out_dir = scratch / "cli"
    code, out, err = run_cli(
        ["--train-images", data["train"]["images"], "--train-json", data["train"]["json"],
         "--out-dir", str(out_dir), "--prefix", "cli", "--ctx", "cpu", "--epochs", "1",
         "--batch-size", "2", "--crop-size", str(CROP), "--base-size", str(BASE),
         "--max-iters-per-epoch", "1", "--seed", "1", "--workers", "2", "--no-progress",
         "--lr", "1e-9", "--json-out", str(scratch / "summary.json"),
         "--backbone-weights", str(scratch / "resnet50_v1s.params")], capsys)
    assert code == 0, err
    summary = json.loads((scratch / "summary.json").read_text())
    assert out.startswith(f"checkpoint: {out_dir / 'cli-0001.params'} (epoch 1, step 1, mIoU -)")
    assert summary["checkpoint"] == str(out_dir / "cli-0001.params")
    assert (summary["epoch"], summary["iteration"]) == (1, 1)
    assert summary["miou"] is None and summary["best_checkpoint"] is None  # no validation
    # the backbone started from the file (one step at lr 1e-9 leaves it almost as it was)
    saved = mx.nd.load(summary["checkpoint"])
    start = mx.nd.load(str(scratch / "resnet50_v1s.params"))
    for k in ("conv1.0.weight", "layer4.2.conv3.weight"):
        np.testing.assert_allclose(saved[k].asnumpy(), start[k].asnumpy(), atol=1e-5)
    assert ckpt.read_checkpoint_spec(summary["checkpoint"])["args"]["backbone_weights"] == \
        str(scratch / "resnet50_v1s.params")


def test_cli_errors(data, tmp_path, capsys, monkeypatch):
    base = ["--train-images", data["train"]["images"], "--train-json", data["train"]["json"],
            "--out-dir", str(tmp_path / "x"), "--no-progress"]
    code, _, err = run_cli(base + ["--ctx", "gpu:99"], capsys)
    assert code == 1
    assert re.search(r"panoseg train-semantic: error: --ctx gpu:99: only \d+ GPU", err)
    with pytest.raises(SystemExit) as info:  # a usage error, before anything runs
        run_cli(base + ["--val-images", data["val"]["images"]], capsys)
    assert info.value.code == 2 and "--val-json" in capsys.readouterr().err
    code, _, err = run_cli(base + ["--resume", str(tmp_path / "nope.params")], capsys)
    assert code == 1 and "nope.params: no such file" in err
    monkeypatch.setitem(sys.modules, "gluoncv", None)  # import gluoncv -> ImportError
    code, _, err = run_cli(base, capsys)
    assert code == 2 and MISSING_MXNET in err


# ------------------------------------------------------------------------------ bad input

def test_bad_ctx(data, tmp_path):
    with pytest.raises(ValueError, match=r"--ctx gpu:99: only \d+ GPU"):
        train(data, tmp_path, ctx="gpu:99")


def test_missing_image_names_file_and_image(data, tmp_path):
    split = make_split(str(tmp_path / "broken"), 2, seed=5)
    os.remove(os.path.join(split["images"], "000000000002.jpg"))
    with pytest.raises(PanopticFormatError) as e:
        training.train_semantic(split["images"], split["json"], out_dir=str(tmp_path / "o"),
                                batch_size=1, crop_size=CROP, base_size=BASE, progress=False)
    msg = str(e.value)
    assert split["json"] in msg and "image 2 (000000000002.jpg)" in msg
    assert "does not exist" in msg
    assert not os.path.exists(tmp_path / "o")


def test_image_size_differing_from_png(data, tmp_path):
    split = make_split(str(tmp_path / "sized"), 2, seed=6)
    path = os.path.join(split["images"], "000000000001.jpg")
    Image.open(path).resize((50, 40)).save(path)
    ds = training.PanopticSemanticDataset(split["images"], split["json"])
    ds.load(1)  # the other image is fine
    with pytest.raises(PanopticFormatError, match=r"image 1 \(000000000001.jpg\): image file "
                                                  r".* is 50x40 but its panoptic PNG"):
        ds.load(0)
    with pytest.raises(PanopticFormatError, match="is 50x40 but its panoptic PNG"):
        training.train_semantic(split["images"], split["json"], out_dir=str(tmp_path / "o"),
                                batch_size=2, crop_size=CROP, base_size=BASE, progress=False,
                                workers=2)
    assert not os.path.exists(tmp_path / "o")  # nothing written


def test_empty_dataset_and_too_large_batch(data, tmp_path):
    d = json.loads(open(data["train"]["json"]).read())
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(dict(d, annotations=[])))
    with pytest.raises(PanopticFormatError, match=r"empty\.json: no annotated images"):
        training.train_semantic(data["train"]["images"], str(empty), data["train"]["folder"],
                                out_dir=str(tmp_path / "o"), progress=False)
    with pytest.raises(ValueError, match=r"--batch-size 5 is larger than the training set "
                                         r"\(4 images"):
        train(data, tmp_path, batch_size=5)


def test_resume_needs_a_sidecar(data, tmp_path):
    plain = tmp_path / "plain.params"
    mx.nd.save(str(plain), {"x": mx.nd.zeros(1)})
    with pytest.raises(ValueError, match=r"--resume .*plain.params: no sidecar"):
        train(data, tmp_path, resume=str(plain))


# ------------------------------------------------------------------------------ checkpoint API

def tiny_spec(**kw):
    names, ids = coco_stuff_classes()
    spec = {"model": "psp_resnet50", "backbone": "resnet50", "nclass": len(names),
            "classes": names, "category_ids": ids.tolist(), "label_map": "coco-stuff",
            "crop_size": 64, "base_size": 72, "aux": True, "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225], "epoch": 1, "iteration": 3, "best_miou": None,
            "miou": None, "args": {}}
    spec.update(kw)
    return spec


def tiny_net_and_trainer():
    net = mx.gluon.nn.Dense(2, in_units=3)
    net.initialize()
    trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1,
                                                             "momentum": 0.9})
    with mx.autograd.record():
        loss = net(mx.nd.ones((1, 3))).sum()
    loss.backward()
    trainer.step(1)
    return net, trainer


def test_read_checkpoint_spec(tmp_path):
    params = tmp_path / "m.params"
    mx.nd.save(str(params), {"x": mx.nd.zeros(1)})
    assert ckpt.read_checkpoint_spec(params) is None  # a plain parameter file
    sidecar = tmp_path / "m.json"
    sidecar.write_text("{not json")
    with pytest.raises(ValueError, match=r"m\.json: malformed checkpoint sidecar"):
        ckpt.read_checkpoint_spec(params)
    sidecar.write_text(json.dumps({"format": "something-else", "version": 1}))
    with pytest.raises(ValueError, match=r"m\.json: not a panoseg semantic checkpoint"):
        ckpt.read_checkpoint_spec(params)
    good = dict(tiny_spec(), format=ckpt.FORMAT, version=ckpt.VERSION)
    sidecar.write_text(json.dumps(dict(good, category_ids=[1, 2])))
    with pytest.raises(ValueError, match=r"m\.json: .*'category_ids' has 2 entries but "
                                         r"'nclass' is 54"):
        ckpt.read_checkpoint_spec(params)
    sidecar.write_text(json.dumps(dict(good, version=2)))
    with pytest.raises(ValueError, match="version 2 is not supported"):
        ckpt.read_checkpoint_spec(params)
    sidecar.write_text(json.dumps(good))
    assert ckpt.read_checkpoint_spec(params) == good


def test_save_checkpoint_is_atomic_and_latest_skips_incomplete(tmp_path, monkeypatch):
    net, trainer = tiny_net_and_trainer()
    path = ckpt.save_checkpoint(net, trainer, tmp_path / "o", "m", tiny_spec(epoch=1))
    assert path == str(tmp_path / "o" / "m-0001.params")
    assert sorted(os.listdir(tmp_path / "o")) == ["m-0001.json", "m-0001.params", "m-0001.states"]
    assert ckpt.read_checkpoint_spec(path)["format"] == "panoseg-semantic-checkpoint"
    assert ckpt.latest_checkpoint(tmp_path / "o", "m") == path
    assert ckpt.latest_checkpoint(tmp_path / "missing", "m") is None

    # a crash while saving epoch 2 leaves no sidecar for it, and no temporary file
    def boom(fname):
        open(fname, "wb").write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(trainer, "save_states", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        ckpt.save_checkpoint(net, trainer, tmp_path / "o", "m", tiny_spec(epoch=2))
    names = sorted(os.listdir(tmp_path / "o"))
    assert "m-0002.json" not in names and not any(n.startswith(".tmp") for n in names)
    assert ckpt.latest_checkpoint(tmp_path / "o", "m") == path
    # overwriting a checkpoint whose save then fails removes its old sidecar first
    with pytest.raises(RuntimeError):
        ckpt.save_checkpoint(net, trainer, tmp_path / "o", "m", tiny_spec(epoch=1))
    assert ckpt.read_checkpoint_spec(path) is None
    assert ckpt.latest_checkpoint(tmp_path / "o", "m") is None
    monkeypatch.undo()

    # copies (hard links) to <prefix>-best and removal
    path = ckpt.save_checkpoint(net, trainer, tmp_path / "o", "m", tiny_spec(epoch=3, miou=0.5))
    best = ckpt.copy_checkpoint(path, ckpt.checkpoint_path(tmp_path / "o", "m", "best"))
    assert best == str(tmp_path / "o" / "m-best.params")
    assert ckpt.read_checkpoint_spec(best) == ckpt.read_checkpoint_spec(path)
    assert open(ckpt.states_path(best), "rb").read() == open(ckpt.states_path(path), "rb").read()
    ckpt.remove_checkpoint(path)
    assert not any(n.startswith("m-0003") for n in os.listdir(tmp_path / "o"))
    assert ckpt.read_checkpoint_spec(best)["epoch"] == 3  # the best survives its epoch's removal
    with pytest.raises(ValueError, match="'nclass' must be a int"):
        ckpt.save_checkpoint(net, trainer, tmp_path / "o", "m", tiny_spec(nclass="54"))


def test_build_semantic_net_from_spec_is_quiet(capsys):
    net = ckpt.build_semantic_net(tiny_spec(), mx.cpu())
    assert capsys.readouterr().out == ""
    assert net.nclass == NCLASS and net.crop_size == 64 and net.aux
    with pytest.raises(ValueError, match="unknown model 'fcn_x'"):
        ckpt.build_semantic_net(tiny_spec(model="fcn_x"))


def test_miou_from_confusion():
    conf = np.array([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    miou, iou = training.miou_from_confusion(conf)
    np.testing.assert_allclose(iou[:2], [3 / 4, 2 / 3])
    assert np.isnan(iou[2]) and miou == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert training.miou_from_confusion(np.zeros((2, 2)))[0] is None


def test_train_transform_pads_with_ignore_and_keeps_label_pixels():
    rng = np.random.default_rng(0)
    image = np.full((10, 12, 3), 200, np.uint8)
    labels = np.full((10, 12), 7, np.uint8)
    x, y = training.train_transform(image, labels, rng, crop_size=64, base_size=16)
    assert x.shape == (3, 64, 64) and x.dtype == np.float32 and y.shape == (64, 64)
    assert set(np.unique(y)) <= {7, 255} and (y == 255).any() and (y == 7).any()
    assert np.all(x[:, y == 255] == 0)  # padding: the mean colour, 0 after normalizing

