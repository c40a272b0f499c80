"""One command-line convention in every subcommand (panoseg.cli.common), checked over every
parser: both spellings of every long flag, usage errors (exit 2, the subcommand's usage, a
"did you mean" hint), data errors (exit 1, one line), help for every flag, the common options,
where output goes, and the fixes of what a new user tripped on."""
import argparse
import json

import pytest

from panoseg.cli import build_parser, main
from panoseg.cli.common import output_file, output_folder
from panoseg.io.categories import coco_panoptic_categories
from panoseg.testing.synthetic import make_dataset, make_merge_inputs


def _subparsers(parser):
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def _commands(parser=None, prefix=()):
    """(command words, parser) of every leaf subcommand, convert's conversions included."""
    parser = parser or build_parser()
    out = []
    for action in _subparsers(parser):
        for name, sub in action.choices.items():
            if _subparsers(sub):
                out += _commands(sub, prefix + (name,))
            else:
                out.append((prefix + (name,), sub))
    return out


def _all_parsers(parser=None):
    parser = parser or build_parser()
    out = [parser]
    for action in _subparsers(parser):
        for sub in action.choices.values():
            out += _all_parsers(sub)
    return out


COMMANDS = _commands()
IDS = [" ".join(words) for words, _ in COMMANDS]
LONG = lambda action: [s for s in action.option_strings if s.startswith("--")]  # noqa: E731


def _value(action):
    """A value the action accepts (None: it takes none)."""
    if action.nargs == 0:
        return None
    if action.choices is not None:
        return str(next(iter(action.choices)))
    if action.nargs in ("+", "*"):
        return "A,B"
    if action.type in (output_file, output_folder):
        return "out-" + action.dest  # one path per output: two outputs on one file are refused
    for value in ("1", "0.5", "A,B", "local:1", "x"):
        try:
            if action.type is None or action.type(value) is not None:
                return value
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            pass
    raise AssertionError(f"no sample value for {action.option_strings}")


def _required(parser, skip=None):
    argv = []
    for action in parser._actions:
        if action.required and action.option_strings and action is not skip:
            argv += [action.option_strings[0], _value(action)]
    return argv


def _with_needs(parser, action, argv):
    """argv plus whatever ``action``'s flag needs, and what that needs (CommandParser.needs)."""
    todo, done = [action], set()
    while todo:
        current = todo.pop()
        done.add(current.dest)
        for flag, other, value in parser._needs:
            needed = parser._action(other)
            if parser._action(flag) is current and needed.dest not in done:
                argv = argv + [other] + ([] if needed.nargs == 0 else [value or _value(needed)])
                todo.append(needed)
    return argv


def _parse(words, argv):
    return build_parser().parse_args(list(words) + list(argv))


def _flag_actions():
    for words, parser in COMMANDS:
        for action in parser._actions:
            if LONG(action) and not isinstance(action, argparse._HelpAction):
                yield words, parser, action


@pytest.mark.parametrize("words,parser", COMMANDS, ids=IDS)
def test_every_long_flag_takes_both_spellings(words, parser):
    checked = 0
    for action in parser._actions:
        if not LONG(action) or isinstance(action, argparse._HelpAction):
            continue
        value = _value(action)
        parsed = []
        for option in LONG(action):
            body = option[2:]
            for spelling in ("--" + body.replace("_", "-"), "--" + body.replace("-", "_")):
                argv = _required(parser, skip=action) + [spelling] + ([value] if value else [])
                ns = _parse(words, _with_needs(parser, action, argv))
                parsed.append(getattr(ns, action.dest))
                checked += 1
        assert len({json.dumps(v) for v in parsed}) == 1, (action.option_strings, parsed)
    assert checked >= 6


@pytest.mark.parametrize("words,parser", COMMANDS, ids=IDS)
def test_help_shows_one_spelling_and_every_flag_has_help(words, parser, capsys):
    with pytest.raises(SystemExit) as info:
        main(list(words) + ["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: panoseg " + " ".join(words))
    assert "--no-progress" in text and "--no_progress" not in text
    for action in parser._actions:
        assert (action.help or "").strip(), (words, action.option_strings or action.dest)
        for option in LONG(action):
            assert "_" not in option, f"{option}: declare flags with dashes"


def test_every_parser_action_has_help():
    for parser in _all_parsers():
        for action in parser._actions:
            assert (action.help or "").strip(), (parser.prog, action.option_strings or action.dest)
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help.strip(), (parser.prog, choice.dest)


@pytest.mark.parametrize("words,parser", COMMANDS, ids=IDS)
def test_unknown_flag_is_a_usage_error_with_a_hint(words, parser, capsys):
    flag = next(LONG(a)[0] for a in parser._actions if LONG(a) and a.option_strings[0] != "-h")
    with pytest.raises(SystemExit) as info:
        main(list(words) + _required(parser) + [flag + "x", "1"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: panoseg " + " ".join(words))
    assert f"unrecognized arguments: {flag}x" in err and f"did you mean {flag}?" in err
    # reported even when a required flag is missing (it may be the misspelt one)
    with pytest.raises(SystemExit) as info:
        main(list(words) + [flag + "x", "1"])
    assert "did you mean" in capsys.readouterr().err


@pytest.mark.parametrize("words,parser", COMMANDS, ids=IDS)
def test_bad_value_and_missing_flag_are_usage_errors(words, parser, capsys):
    with pytest.raises(SystemExit) as info:
        main(list(words) + _required(parser) + ["--workers", "0"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: panoseg " + " ".join(words)) and "--workers" in err
    if _required(parser):
        with pytest.raises(SystemExit) as info:
            main(list(words))
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("usage: panoseg " + " ".join(words)) and "required" in err


def test_unknown_command_and_conversion_get_a_hint(capsys):
    for argv, hint in ((["evl"], "'eval'"), (["convert", "2ch-to-panoptc"], "'2ch-to-panoptic'")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert f"did you mean {hint}?" in capsys.readouterr().err


def test_bootstrap_count_has_an_upper_bound(capsys):
    # A few digits too many would run for ever: a usage error instead.
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["eval", "--gt-json-file", "g", "--pred-json-file", "p",
                                   "--bootstrap", "100000000000000000000"])
    assert e.value.code == 2 and "--bootstrap: must be <= 1000000" in capsys.readouterr().err
    assert build_parser().parse_args(["eval", "--gt-json-file", "g", "--pred-json-file", "p",
                                      "--bootstrap", "1000000"]).bootstrap == 1000000


def test_merge_threshold_out_of_range_exits_2(capsys):
    words, parser = next(c for c in COMMANDS if c[0] == ("merge",))
    with pytest.raises(SystemExit) as info:
        main(["merge"] + _required(parser) + ["--confidence_thr", "1.5"])
    assert info.value.code == 2
    assert "usage: panoseg merge" in capsys.readouterr().err


def test_common_options_everywhere():
    for words, parser in COMMANDS:
        flags = {s for a in parser._actions for s in a.option_strings}
        assert {"--workers", "--no-progress"} <= flags, words
        ns = _parse(words, _required(parser) + ["--no_progress", "--workers", "3"])
        assert ns.no_progress is True and ns.workers == 3
        assert ("--dask" in flags) == (words in {("eval",), ("merge",), ("infer",), ("compare",)}), words


@pytest.mark.parametrize("words,alias", [
    (("eval",), None), (("tune",), None), (("merge",), "--panoptic_json_file"),
    (("convert", "2ch-to-panoptic"), "--output_json_file"),
    (("convert", "panoptic-to-detection"), "--output_json_file"),
    (("convert", "detection-to-panoptic"), "--output_json_file"),
    (("infer",), "--out-json"), (("train-semantic",), None)])
def test_json_out_is_the_one_name_for_the_results_json(words, alias):
    parser = dict(COMMANDS)[words]
    json_out = parser._action("--json-out")
    argv = _required(parser, skip=json_out)
    for flag in ("--json-out", "--json_out") + ((alias,) if alias else ()):
        assert _parse(words, argv + [flag, "r.json"]).json_out == "r.json"


def test_an_abbreviation_is_not_ambiguous_between_spellings():
    words, parser = next(c for c in COMMANDS if c[0] == ("eval",))
    assert _parse(words, _required(parser) + ["--json", "r.json"]).json_out == "r.json"


@pytest.mark.parametrize("words,argv,needle", [
    (("eval",), ["--report-worst", "3"], "--report-worst has no effect without --report"),
    (("eval",), ["--images_folder", "x"], "--images-folder has no effect without --report"),
    (("eval",), ["--bootstrap-seed", "1"], "--bootstrap-seed has no effect without --bootstrap"),
    (("viz",), ["--titles", "a,b"], "--titles has no effect without --compare-json-file"),
    (("viz",), ["--compare_folder", "x"], "--compare-folder has no effect without"),
    (("infer",), ["--base-size", "600"], "without --semantic-mode sliding"),
    (("train-semantic",), ["--val-images", "x"], "--val-images has no effect without --val-json"),
    (("train-semantic",), ["--download-weights"], "without --backbone-weights zoo"),
])
def test_a_flag_without_effect_is_a_usage_error(words, argv, needle, capsys):
    parser = dict(COMMANDS)[words]
    with pytest.raises(SystemExit) as info:
        main(list(words) + _required(parser) + argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: panoseg " + " ".join(words)) and needle in err


def test_flags_that_go_together_parse():
    eval_parser = dict(COMMANDS)[("eval",)]
    ns = _parse(("eval",), _required(eval_parser) + ["--report", "r", "--report-worst", "8",
                                                     "--bootstrap", "5", "--bootstrap_seed", "2"])
    assert (ns.report_worst, ns.bootstrap_seed) == (8, 2)
    ns = _parse(("eval",), _required(eval_parser))
    assert (ns.report_worst, ns.bootstrap_seed, ns.images_folder) == (8, 0, None)
    viz = dict(COMMANDS)[("viz",)]
    for titles in (["A,B"], ["A", "B"]):
        ns = _parse(("viz",), _required(viz) + ["--compare-json-file", "p.json", "--titles"]
                    + titles)
        assert ns.titles == ["A", "B"]
    with pytest.raises(SystemExit):
        _parse(("viz",), _required(viz) + ["--compare-json-file", "p.json", "--titles", "A"])


# ---------------------------------------------------------------------------- runs

@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds"), n_images=3, height=48, width=64, seed=5)


@pytest.fixture(scope="module")
def stuff_only(tmp_path_factory):
    """No thing category at all: Things has N = 0."""
    cats = [c for c in coco_panoptic_categories().to_list() if not c["isthing"]][:10]
    return make_dataset(tmp_path_factory.mktemp("stuff"), n_images=3, height=48, width=64,
                        seed=6, categories=cats, n_things=0)


def _eval(ds, *extra):
    return main(["eval", "--gt_json_file", ds.gt_json, "--pred_json_file", ds.pred_json,
                 "--no_progress", *extra])


def test_groups_without_categories_print_a_dash(stuff_only, capsys):
    assert _eval(stuff_only, "--bootstrap", "10") == 0
    out = capsys.readouterr().out.splitlines()
    things = [line for line in out if line.startswith("Things")]
    assert things[0].split() == ["Things", "|", "-", "-", "-", "0"]  # the PQ table
    assert things[1].split() == ["Things", "|", "PQ", "-", "SQ", "-", "RQ", "-"]  # bootstrap
    assert "Things     -" in next(line for line in out if line.startswith("PQ-dagger"))
    assert "0.0" not in "\n".join(things)


def test_a_small_bootstrap_warns(dataset, tmp_path, capsys):
    assert _eval(dataset, "--bootstrap", "10") == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert warnings == ["panoseg eval: warning: --bootstrap over 3 images: the intervals are "
                        "unreliable below about 30 images"]
    big = make_dataset(tmp_path, n_images=30, height=24, width=32, seed=1)
    assert _eval(big, "--bootstrap", "10") == 0
    assert "warning" not in capsys.readouterr().err


def test_a_missing_images_folder_is_an_error(dataset, tmp_path, capsys):
    assert _eval(dataset, "--report", str(tmp_path / "r"), "--images-folder",
                 str(tmp_path / "nope")) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"panoseg eval: error: {tmp_path / 'nope'}: images folder does "
                                "not exist (--images-folder)"]
    assert not (tmp_path / "r").exists()


def test_merge_prints_a_summary_not_json(tmp_path, capsys):
    inputs = make_merge_inputs(tmp_path / "in", n_images=2, height=48, width=64, seed=1)
    out = tmp_path / "out.json"
    assert main(["merge", "--semseg-json-file", inputs.semseg_json, "--instseg-json-file",
                 inputs.instseg_json, "--images-json-file", inputs.images_json,
                 "--categories-json-file", inputs.categories_json, "--json-out", str(out),
                 "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert not any(line.lstrip().startswith(("{", "[")) for line in captured.out.splitlines())
    assert captured.out.startswith("merged 2 images") and str(out) in captured.out
    assert len(json.loads(out.read_text())["annotations"]) == 2
    assert (tmp_path / "out").is_dir()


@pytest.mark.parametrize("argv", [
    ["eval", "--gt-json-file", "{m}", "--pred-json-file", "{m}"],
    ["merge", "--semseg-json-file", "{m}", "--instseg-json-file", "{m}", "--images-json-file",
     "{m}", "--categories-json-file", "{m}", "--json-out", "{t}/o.json"],
    ["tune", "--semseg-json-file", "{m}", "--instseg-json-file", "{m}", "--images-json-file",
     "{m}", "--categories-json-file", "{m}", "--gt-json-file", "{m}"],
    ["viz", "--panoptic-json-file", "{m}", "--output-folder", "{t}/v"],
    ["convert", "panoptic-to-semantic", "--input-json-file", "{m}", "--output-folder", "{t}/s"],
    ["convert", "panoptic-to-detection", "--input-json-file", "{m}", "--json-out", "{t}/d.json"],
    ["convert", "detection-to-panoptic", "--input-json-file", "{m}", "--json-out", "{t}/p.json"],
    ["convert", "2ch-to-panoptic", "--input-folder", "{t}", "--images-json-file", "{m}",
     "--json-out", "{t}/p.json"],
], ids=lambda argv: " ".join(a for a in argv[:2] if not a.startswith("-")))
def test_bad_input_is_one_line_and_exit_1(argv, tmp_path, capsys):
    missing = tmp_path / "missing.json"
    argv = [a.format(m=missing, t=tmp_path) for a in argv] + ["--no-progress"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    prog = "panoseg " + " ".join(a for a in argv[:2] if not a.startswith("-"))
    assert len(lines) == 1 and lines[0].startswith(prog + ": error: ") and "missing.json" in lines[0]
    assert captured.out == ""


@pytest.mark.parametrize("columns", [None, "", "0", "-5", "abc", "1", "120"])
def test_terminal_width_as_shutil_finds_it(monkeypatch, columns):
    """The help formatter's width is found without shutil (its import is ~2 ms of every
    command's start-up), the same way."""
    import shutil

    from panoseg.cli.common import _terminal_columns
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setenv("LINES", "24")  # (shutil asks the terminal when LINES is unset too)
    assert _terminal_columns() == shutil.get_terminal_size().columns
