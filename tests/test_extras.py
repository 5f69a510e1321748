"""A missing optional extra is one message naming the extra to install, in every command and in Python; a run
directory with an export predicts without torch. Each case runs in a fresh interpreter whose import system is
told that the extra's modules are not installed (``sys.modules[name] = None`` makes ``import name`` fail with
``ModuleNotFoundError``, as in an install without them)."""

import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import synthetic_corpus
from textrnn import TextRNNClassifier
from textrnn.deploy.export import export_onnx

SERVE_MODULES = ("fastapi", "uvicorn", "onnxruntime")
TRAIN_MODULES = ("torch", "lightning_fabric", "safetensors", "sklearn", "gensim", "matplotlib")


def without(modules, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a new interpreter that cannot import ``modules``."""
    blocker = f"import sys\nfor name in {tuple(modules)!r}:\n    sys.modules[name] = None\n"
    return subprocess.run([sys.executable, "-c", blocker + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    texts, labels = synthetic_corpus(300)
    clf = TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=2, verbose=False, threads=1).fit(texts, labels)
    directory = tmp_path_factory.mktemp("extras")
    (directory / "train.csv").write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in zip(texts, labels)))
    return clf.save(directory / "run")


def cli(run_args: list[str]) -> str:
    return f"from textrnn.cli import main\nraise SystemExit(main({run_args!r}))\n"


def test_serve_without_the_serve_extra_names_it(run):
    result = without(("fastapi", "uvicorn"), cli(["serve", str(run), "--port", "0"]))
    assert result.returncode == 2, result.stderr
    assert 'pip install "textrnn[serve]"' in result.stderr and "unexpected error" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["explain", "{run}", "goal team"], ["evaluate", "{run}"],
                                     ["train", "--dataset", "{run}/../train.csv"]])
def test_commands_that_need_torch_name_the_train_extra(run, command):
    result = without(TRAIN_MODULES, cli([part.format(run=run) for part in command]))
    assert result.returncode == 2, result.stderr
    assert 'pip install "textrnn[train]"' in result.stderr and "Traceback" not in result.stderr


def test_python_names_the_extra_too():
    result = without(TRAIN_MODULES, "from textrnn import TextRNNClassifier\n")
    assert result.returncode == 1 and 'textrnn.TextRNNClassifier: this needs torch' in result.stderr
    assert 'pip install "textrnn[train]"' in result.stderr


def test_a_run_directory_with_an_export_predicts_without_torch(run, tmp_path):
    exported = shutil.copytree(run, tmp_path / "run")
    export_onnx(exported)  # writes RUN/onnx
    result = without(TRAIN_MODULES, cli(["predict", str(exported), "goal team coach", "--format", "jsonl"]))
    assert result.returncode == 0, result.stderr
    assert '"label": "sport"' in result.stdout
    unexported = without(TRAIN_MODULES, cli(["predict", str(run), "goal team coach"]))
    assert unexported.returncode == 2 and 'pip install "textrnn[train]"' in unexported.stderr


@pytest.mark.parametrize("command,message", [
    (["train", "--dataset", "{tmp}/missing.csv"], "missing.csv: no such file"),
    (["train", "--dataset", "{run}/../train.csv", "--label-column", "stars"], "no column 'stars'"),
    (["predict", "{tmp}/no-run", "text"], "no such model directory"),
    (["evaluate", "{run}", "--test-data", "{tmp}/missing.csv"], "missing.csv: no such file"),
    (["explain", "{tmp}/no-run", "text"], "no such model directory"),
])
def test_mistakes_are_found_before_the_heavy_libraries_load(run, tmp_path, command, message):
    """Files, columns and run directories are checked first: with PyTorch and scikit-learn impossible to
    import, the user's mistake is still what the command reports (so it is reported in a fraction of a second,
    bench/startup.py)."""
    result = without(TRAIN_MODULES, cli([part.format(run=run, tmp=tmp_path) for part in command]))
    assert result.returncode == 2 and message in result.stderr, result.stderr
