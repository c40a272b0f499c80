import json
import shutil
import threading
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data" / "coco_panoptic_sample"


@pytest.fixture
def sample_copy(tmp_path):
    """The COCO sample as gt.json + gt/ and an identical pred.json + pred/ in a temp folder."""
    src = json.loads((DATA / "panoptic_examples.json").read_text())
    for name in ("gt", "pred"):
        shutil.copytree(DATA / "panoptic_examples", tmp_path / name)
        (tmp_path / f"{name}.json").write_text(json.dumps(src))
    return tmp_path


def in_thread(fn, timeout=20):
    """fn's result, or its exception, from a daemon thread; fails if it is still running after
    ``timeout`` seconds (a hang)."""
    out = []

    def run():
        try:
            out.append(("ok", fn()))
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out.append(("error", e))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "blocked"
    return out[0]
