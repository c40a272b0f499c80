"""Bootstrap intervals of PQ / SQ / RQ from per-image statistics (panoseg.evaluation.bootstrap)."""
import numpy as np
import pytest

from panoseg import PQEvaluator
from panoseg.evaluation.bootstrap import PerImageStats, _class_averages, bootstrap_intervals
from panoseg.testing.synthetic import default_categories, make_image_pair


def per_image_and_stats(n_images, seed=0):
    rng = np.random.default_rng(seed)
    cats = default_categories()
    ev = PQEvaluator(cats)
    rows = []
    for _ in range(n_images):
        r = ev.add(*make_image_pair(rng, 48, 64, cats))
        rows.append((r.tp, r.fp, r.fn, r.iou))
    return PerImageStats.from_arrays(rows), ev.stats


@pytest.fixture(scope="module")
def small():
    return per_image_and_stats(20, seed=1)


@pytest.fixture(scope="module")
def large():
    return per_image_and_stats(160, seed=2)


def test_the_full_sample_reproduces_panopticapis_averages(small):
    per_image, stats = small
    sums = [x.sum(0, keepdims=True).astype(float) for x in (per_image.tp, per_image.fp,
                                                            per_image.fn, per_image.iou)]
    summary = stats.summarize()
    isthing = stats.categories.isthing
    for name, mask in (("All", np.ones_like(isthing)), ("Things", isthing), ("Stuff", ~isthing)):
        got = _class_averages(*sums, mask[None, :])
        for key in ("pq", "sq", "rq"):
            assert got[key][0] == pytest.approx(summary[name][key], abs=1e-12)


def test_intervals_contain_the_estimate_and_shrink_with_more_images(small, large):
    widths = []
    for per_image, stats in (small, large):
        boot = bootstrap_intervals(per_image, stats.categories.isthing, 400, seed=0)
        summary = stats.summarize()
        for name in ("All", "Things", "Stuff"):
            for key in ("pq", "sq", "rq"):
                lo, hi = boot[name][key]
                assert lo <= summary[name][key] <= hi, (name, key)
        widths.append(boot["All"]["pq"][1] - boot["All"]["pq"][0])
        assert boot["n"] == 400 and boot["confidence"] == 0.95
        # PQ itself needs no extension: the bias correction alone keeps the estimate inside
        assert not [m for m in boot["extended"] if m.endswith(".pq")]
    assert widths[1] < 0.75 * widths[0]  # 8x the images: roughly sqrt(8) narrower


def test_deterministic_per_seed_and_chunking_does_not_matter(small):
    per_image, stats = small
    a = bootstrap_intervals(per_image, stats.categories.isthing, 300, seed=5)
    b = bootstrap_intervals(per_image, stats.categories.isthing, 300, seed=5, chunk=300)
    c = bootstrap_intervals(per_image, stats.categories.isthing, 300, seed=6)
    assert a == bootstrap_intervals(per_image, stats.categories.isthing, 300, seed=5)
    assert a["All"]["pq"] == pytest.approx(b["All"]["pq"], abs=0.02)  # same law, other draws
    assert a != c


def test_bad_arguments(small):
    per_image, stats = small
    with pytest.raises(ValueError, match=r"n_replicates \(--bootstrap\) must be >= 1"):
        bootstrap_intervals(per_image, stats.categories.isthing, 0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_intervals(per_image, stats.categories.isthing, 10, confidence=1.5)
    with pytest.raises(ValueError, match="no images"):
        PerImageStats.from_arrays([])
