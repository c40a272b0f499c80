import json
import shutil
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
