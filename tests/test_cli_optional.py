"""CLI commands whose optional dependencies (MXNet, GluonCV) are missing fail cleanly."""
import importlib.util

from panoseg.cli import main


def test_cli_without_mxnet_says_how_to_install(monkeypatch, capsys, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mxnet" else real(name, *a))
    code = main(["infer", "--images", str(tmp_path), "--out-json", str(tmp_path / "o.json")])
    assert code == 2
    assert "pip install 'panoseg[mxnet]'" in capsys.readouterr().err
