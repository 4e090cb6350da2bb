"""What a new user meets first: wrong labels, commands and options, the help texts and the examples in them."""
import json
import os
import re
import shutil
import subprocess

import pytest

from neuralcollage import cli
from neuralcollage.pretrained import REGISTRY, list_models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, capsys):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err):
    lines = [line for line in err.splitlines() if line.startswith("collage: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def example(name):
    return os.path.join(cli.examples_dir(), name)


def _parsers(parser, words=("collage",)):
    """(command words, parser) for the top-level parser and every (nested) subcommand."""
    yield words, parser
    if parser._subparsers is not None:
        for name, sub in parser._subparsers._group_actions[0].choices.items():
            yield from _parsers(sub, words + (name,))


# ------------------------------------------------------------------------------------------------ labels

def test_unknown_label_on_the_builtin_model_lists_its_labels_and_names_the_model_with_breeds(tmp_path, capsys):
    from neuralcollage.datasets import CLASS_NAMES
    code, _, err = run(["--base", example("cat.png"), "--mask", example("cat_ears_mask.png"), "--label", "pug",
                        "-o", tmp_path / "out.png", "-q"], capsys)
    assert code == 2
    line = one_error_line(err)
    assert "unknown label 'pug' for builtin" in line
    assert f"it has {len(CLASS_NAMES)}: {', '.join(CLASS_NAMES)}" in line
    assert "--model dogcat256" in line
    assert not (tmp_path / "out.png").exists()
    # a near miss still gets its suggestion
    code, _, err = run(["generate", "--label", "foxx", "-o", tmp_path / "g.png", "-q"], capsys)
    assert code == 2 and "did you mean: fox?" in one_error_line(err)


def test_the_breed_named_in_the_hint_is_a_class_of_the_model_it_names():
    from neuralcollage.labels import dogs_and_cats
    from neuralcollage.pretrained import BUILTIN_LABELS_HINT
    assert REGISTRY["dogcat256"].vocabulary == "dogs_and_cats"
    for breed in re.search(r"\((.*?), \.\.\.\)", BUILTIN_LABELS_HINT).group(1).split(", "):
        dogs_and_cats().index(breed)  # raises if the hint named a class the model does not have


def test_a_large_vocabulary_does_not_list_every_label():
    from neuralcollage.labels import UnknownLabelError, imagenet1k
    with pytest.raises(UnknownLabelError) as info:
        imagenet1k().index("not a class at all")
    assert "it has" not in str(info.value) and "collage labels --search" in str(info.value)


# ------------------------------------------------------------------------------------------------ commands, options

@pytest.mark.parametrize("word, hint", [("frobnicate", None), ("demoo", "demo"), ("model", "models")])
def test_unknown_command(word, hint, capsys):
    code, out, err = run([word, "--label", "fox"], capsys)
    assert code == 2 and out == ""
    line = one_error_line(err)
    assert f"unknown command '{word}'" in line and "collage --help" in line
    if hint:
        assert f"did you mean `collage {hint}`?" in line
    else:
        assert "did you mean" not in line


def test_options_still_make_an_edit_without_a_command_word(capsys):
    code, _, err = run(["--base", "missing.png", "--mask", "m.png", "--label", "fox"], capsys)
    assert code == 2 and "unknown command" not in err and "missing.png" in one_error_line(err)


@pytest.mark.parametrize("argv, suggestion", [
    (["--base", "p.png", "--mask", "m.png", "--label", "fox", "--color-reach", "3"], "--colour-reach"),
    (["edit", "--base", "p.png", "--mask", "m.png", "--label", "fox", "--color-reach=3"], "--colour-reach"),
    (["blend", "--base", "p.png", "--source", "s.png", "--mask", "m.png", "-o", "o.png", "--color-reach", "3"],
     "--colour-reach"),
    (["--base", "p.png", "--mask", "m.png", "--label", "fox", "--stepz", "3"], "--steps"),
    (["train", "gan", "runs/x", "--iteratoins", "3"], "--iterations"),
])
def test_a_misspelt_option_gets_the_right_spelling(argv, suggestion, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2
    line = one_error_line(err)
    assert "unrecognized arguments" in line and line.endswith(f"did you mean {suggestion}?")


def test_an_option_with_no_close_match_gets_no_suggestion(capsys):
    code, _, err = run(["models", "--zzzz"], capsys)
    assert code == 2 and "did you mean" not in one_error_line(err)


# ------------------------------------------------------------------------------------------------ help texts

def test_every_command_help_has_examples_of_that_command(capsys):
    checked = []
    for words, parser in _parsers(cli.build_parser()):
        argv = list(words[1:]) + ["--help"]
        code, out, _ = run(argv, capsys)
        assert code == 0, argv
        assert "examples:" in out, f"`{' '.join(words)} --help` has no examples"
        lines = out.split("examples:", 1)[1].splitlines()
        commands = [ln.strip() for ln in lines if ln.strip().startswith("collage")]
        assert commands, words
        prefix = " ".join(words)
        if len(words) > 1 and words[1] != "edit":
            assert all(c.startswith(prefix) for c in commands), (prefix, commands)
        checked.append(prefix)
    assert {"collage demo", "collage models", "collage train", "collage convert"} <= set(checked)


def test_demo_help_describes_the_bundled_example():
    spec = json.load(open(example("example.json")))
    parser = dict(_parsers(cli.build_parser()))[("collage", "demo")]
    text = " ".join(parser.format_help().split())
    assert f"a 256 px {spec['source_label']}" in text
    assert f"{spec['target_label']} {spec['part']}" in text
    other = {"cat": "dog", "dog": "cat"}[spec["source_label"]]
    assert f"a {other} rendered" not in text and f"256 px {other}" not in text


def _attribute_examples():
    texts = [cli.TOP_EPILOG, cli.ATTRIBUTE_EPILOG]
    readme = os.path.join(ROOT, "README.md")
    if os.path.exists(readme):
        texts.append(open(readme, encoding="utf-8").read())
    found = []
    for text in texts:
        for m in re.finditer(r"collage attribute [^\n]*--axis fur_brightness --amount[ =](\S+)[^\n]*-o (\S+)", text):
            found.append((float(m.group(1)), m.group(2), m.group(0)))
    return found


def test_attribute_examples_agree_on_the_direction_of_an_amount():
    found = _attribute_examples()
    assert len(found) >= 3
    for amount, output, line in found:  # a positive amount increases the attribute
        word = "brighter" if amount > 0 else "darker"
        assert word in output and ({"brighter", "darker"} - {word}).pop() not in output, line
    assert len({line.split(" -o ")[0].split("--base")[1] for _, _, line in found}) == 1, found


def _documents():
    paths = [os.path.join(ROOT, "README.md")]
    notebooks = os.path.join(ROOT, "notebooks")
    if os.path.isdir(notebooks):
        paths += [os.path.join(notebooks, n) for n in sorted(os.listdir(notebooks)) if n.endswith(".ipynb")]
    for path in paths:
        if not os.path.exists(path):
            continue
        text = open(path, encoding="utf-8").read()
        if path.endswith(".ipynb"):
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        yield os.path.basename(path), text


def test_documents_name_only_commands_that_exist():
    named = 0
    for name, text in _documents():
        for m in re.finditer(r"`collage ([a-z][a-z-]*)", text):
            named += 1
            assert m.group(1) in cli.SUBCOMMANDS, f"{name} mentions `collage {m.group(1)}`"
    assert named > 0


# ------------------------------------------------------------------------------------------------ collage models

def test_models_reads_as_sentences_for_every_entry(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NEURALCOLLAGE_HOME", str(tmp_path / "home"))
    code, out, _ = run(["models"], capsys)
    assert code == 0
    rows = {r.name: r for r in list_models()}
    assert set(rows) == set(REGISTRY)
    for name, entry in REGISTRY.items():
        notes = rows[name].notes
        assert "from not" not in notes and "; not linked" not in notes, notes
        assert not entry.source.lower().startswith(("not ", "no ")), (name, entry.source)
        assert notes in out
    assert "get the files from your own training run" in rows["cub128"].notes


# ------------------------------------------------------------------------------------------------ demo

def test_a_failed_demo_leaves_no_folder_behind(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NEURALCOLLAGE_PRETRAINED", str(tmp_path / "no_model"))
    target = tmp_path / "new" / "demo_out"
    code, _, err = run(["demo", "-o", target, "-q"], capsys)
    assert code == 3 and "not trained yet" in one_error_line(err)
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "mine"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    code, _, _ = run(["demo", "-o", kept, "-q"], capsys)
    assert code == 3 and os.listdir(kept) == ["notes.txt"]


def test_the_quick_start_output_folder_is_git_ignored():
    git = shutil.which("git")
    if git is None or not os.path.isdir(os.path.join(ROOT, ".git")) and not os.path.isfile(
            os.path.join(ROOT, ".git")):
        pytest.skip("not a git checkout")
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    folder = re.search(r"collage demo -o (\S+)", readme).group(1)
    for path in (f"{folder}/result.png", "collage_demo/result.png"):
        proc = subprocess.run([git, "check-ignore", "-q", path], cwd=ROOT)
        assert proc.returncode == 0, f"{path} is not ignored"
