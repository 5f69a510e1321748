"""Saved files from earlier versions still load; runtime settings stay out of saved models; an ONNX export
predicts in a process that cannot import torch."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from textrnn import TextRNNClassifier
from textrnn.cli import main
from textrnn.deploy.runtime import OnnxClassifier
from textrnn.errors import ExportError, ModelFileError

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy-0.1"  # written by textrnn 0.1.0 (make_fixture.py)
EXPECTED = json.loads((LEGACY / "expected.json").read_text())


def test_a_model_directory_written_by_0_1_loads_and_predicts_as_it_did():
    assert json.loads((LEGACY / "model" / "config.json").read_text())["format"] == "textrnn.model/1"
    clf = TextRNNClassifier.load(LEGACY / "model")
    assert clf.classes_.tolist() == EXPECTED["classes"]
    np.testing.assert_allclose(clf.predict_proba(EXPECTED["texts"]), EXPECTED["probabilities"], atol=1e-6)
    assert clf.params_.adversarial == 0.0  # trained before adversarial training existed, so without it


def test_an_onnx_export_written_by_0_1_loads_and_predicts_as_it_did(capsys):
    exported = OnnxClassifier(LEGACY / "export")
    np.testing.assert_allclose(exported.predict_proba(EXPECTED["texts"]), EXPECTED["probabilities"], atol=1e-5)
    assert main(["predict", str(LEGACY / "export"), EXPECTED["texts"][0], "--format", "jsonl"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["label"] == EXPECTED["classes"][int(np.argmax(EXPECTED["probabilities"][0]))]


def test_runtime_settings_are_not_saved_with_a_model(tmp_path):
    texts = [f"ball goal team {i}" for i in range(20)] + [f"stock bank price {i}" for i in range(20)]
    labels = ["sport"] * 20 + ["money"] * 20
    clf = TextRNNClassifier(embed_dim=4, hidden_size=4, epochs=1, val_size=0, device="cpu", verbose=True,
                            memory_budget_gb=4.0, checkpoint_every=7).fit(texts, labels)
    config = json.loads((clf.save(tmp_path / "m") / "config.json").read_text())
    assert config["format"] == "textrnn.model/2"
    for runtime in ("device", "devices", "num_nodes", "verbose", "memory_budget_gb", "checkpoint_every"):
        assert runtime not in config["params"]
    assert config["params"]["embed_dim"] == 4 and config["params"]["epochs"] == 1
    loaded = TextRNNClassifier.load(tmp_path / "m")
    assert loaded.verbose is False and loaded.device == "auto"  # this process's defaults, not the saver's
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)


def test_a_model_directory_with_a_pickle_is_refused(tmp_path):
    import shutil

    shutil.copytree(LEGACY / "model", tmp_path / "m")
    (tmp_path / "m" / "extra.pkl").write_bytes(b"not loaded")
    with pytest.raises(ModelFileError, match="pickle"):
        TextRNNClassifier.load(tmp_path / "m")


def test_an_export_whose_model_file_points_outside_is_refused(tmp_path):
    import shutil

    shutil.copytree(LEGACY / "export", tmp_path / "e")
    manifest = json.loads((tmp_path / "e" / "export.json").read_text())
    manifest["model_file"] = "../elsewhere.onnx"
    (tmp_path / "e" / "export.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match="model_file"):
        OnnxClassifier(tmp_path / "e")


BLOCK_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "lightning_fabric", "safetensors", "sklearn"):
            raise ImportError(f"{name} is blocked: this process must work without it")
sys.meta_path.insert(0, Block())
"""


def test_predicting_from_an_export_never_imports_torch(tmp_path):
    """What `pip install textrnn[serve]` gives must be enough: runtime, CLI predict and the server's app."""
    texts = json.dumps(EXPECTED["texts"])
    script = BLOCK_TORCH + f"""
from textrnn.deploy.runtime import OnnxClassifier
from textrnn.cli import main
print(OnnxClassifier({str(LEGACY / 'export')!r}).predict({texts}).tolist())
assert main(["predict", {str(LEGACY / 'export')!r}, "ball goal team"]) == 0
from fastapi.testclient import TestClient
from textrnn.deploy.serve import ServeSettings, create_app
with TestClient(create_app(ServeSettings(model_path={str(LEGACY / 'export')!r}))) as client:
    reply = client.post("/v1/predict", json={{"texts": ["ball goal team"]}})
    assert reply.status_code == 200, reply.text
    print(reply.json()["predictions"][0]["label"])
assert not any(name.startswith("torch") for name in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    predicted = [EXPECTED["classes"][int(np.argmax(p))] for p in EXPECTED["probabilities"]]
    assert str(predicted) in result.stdout
