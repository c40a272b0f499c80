"""Malformed JSON value types give one line naming the file (and image), never a traceback
(issue 11, point 5, for the panoptic JSON loader)."""
import pytest

from test_bad_input import ann, edit_json, expect_error


@pytest.mark.parametrize("bad", [[1], {"a": 1}, None, 1.5, True])
@pytest.mark.parametrize("side", ["gt", "pred"])
def test_image_id_of_another_type(sample_copy, capsys, side, bad):
    edit_json(sample_copy, side, lambda d: ann(d).__setitem__("image_id", bad))
    expect_error(sample_copy, capsys, f"{side}.json", "is not an integer or a string")


@pytest.mark.parametrize("bad", [None, 7, "", ["a.png"]])
def test_file_name_of_another_type(sample_copy, capsys, bad):
    edit_json(sample_copy, "pred", lambda d: ann(d).__setitem__("file_name", bad))
    expect_error(sample_copy, capsys, "pred.json", "image 142238", "is not a file name")


def test_deeply_nested_json(sample_copy, capsys):
    (sample_copy / "pred.json").write_text("[" * 100_000 + "]" * 100_000)
    expect_error(sample_copy, capsys, "pred.json", "malformed JSON")


@pytest.mark.parametrize("bad, shown", [
    ("1180591620717411303424", "<a number beyond the 64-bit range>"),  # 2**70: a float to orjson
    ('"7"', "'7'"), ("7.5", "7.5"), ("null", "None")])
def test_segment_id_of_another_type(sample_copy, capsys, bad, shown):
    text = (sample_copy / "pred.json").read_text()
    first = text.index('"id": ', text.index('"segments_info"'))
    end = text.index(",", first)
    (sample_copy / "pred.json").write_text(text[:first] + '"id": ' + bad + text[end:])
    expect_error(sample_copy, capsys, "pred.json",
                 f"segments_info[0] has no integer 'id' (got {shown})")
