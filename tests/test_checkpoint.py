"""Reading and validating cgt checkpoints (cgt.checkpoint), on hand-made files."""

from __future__ import annotations

import copy

import pytest
import torch

from cgt.checkpoint import SCHEMA_VERSION, CheckpointError, read_checkpoint

ENTRY = {
    "schema_version": SCHEMA_VERSION,
    "cgt_version": "0.1.0",
    "featurizer": "zinc",
    "vocabulary": ["C", "O", "N"],
    "target_names": ["logp", "tpsa"],
    "task": "regression",
    "target_mean": [2.5, 65.0],
    "target_std": [1.4, 22.0],
    "model_config": {"hidden": 8},
    "config": {"seed_everything": 0},
}


def save(path, entry=ENTRY, **extra):
    checkpoint = {"state_dict": {"model.w": torch.ones(3)}, "epoch": 1, **extra}
    if entry is not None:
        checkpoint["cgt"] = copy.deepcopy(entry)
    torch.save(checkpoint, path)
    return path


def test_reads_a_valid_checkpoint(tmp_path):
    info, state = read_checkpoint(save(tmp_path / "ok.ckpt"))
    assert info.target_names == ("logp", "tpsa")
    assert info.task == "regression"
    assert info.target_mean == (2.5, 65.0)
    assert info.target_std == (1.4, 22.0)
    assert info.featurizer == "zinc"
    assert info.model_config == {"hidden": 8}
    assert torch.equal(state["model.w"], torch.ones(3))


def test_tensor_statistics_are_accepted(tmp_path):
    entry = {**ENTRY, "target_mean": torch.tensor([1.0, 2.0])}
    entry["target_std"] = torch.tensor([3.0, 4.0])
    info, _ = read_checkpoint(save(tmp_path / "t.ckpt", entry))
    assert info.target_mean == (1.0, 2.0) and info.target_std == (3.0, 4.0)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt"):
        read_checkpoint(tmp_path / "nowhere.ckpt")


def test_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.ckpt"
    path.write_text("smiles,y\nCCO,1.0\n")
    with pytest.raises(CheckpointError, match=r"notes\.ckpt is not a PyTorch checkpoint"):
        read_checkpoint(path)


def test_truncated_file_is_refused(tmp_path):
    path = save(tmp_path / "full.ckpt")
    data = path.read_bytes()
    for keep in (len(data) // 2, len(data) - 10):
        cut = tmp_path / f"cut{keep}.ckpt"
        cut.write_bytes(data[:keep])
        with pytest.raises(CheckpointError, match=f"cut{keep}.ckpt"):
            read_checkpoint(cut)


def test_corrupted_payload_is_refused(tmp_path):
    path = save(tmp_path / "bad.ckpt")
    data = bytearray(path.read_bytes())
    start = data.find(b"data.pkl") + 40  # inside the pickled payload of the zip archive
    data[start : start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="bad.ckpt"):
        read_checkpoint(path)


def test_plain_torch_file_without_cgt_entry(tmp_path):
    with pytest.raises(CheckpointError, match=r"plain\.pt .*no 'cgt' entry"):
        read_checkpoint(save(tmp_path / "plain.pt", entry=None))
    torch.save(torch.zeros(2), tmp_path / "tensor.pt")
    with pytest.raises(CheckpointError, match="no 'cgt' entry"):
        read_checkpoint(tmp_path / "tensor.pt")


def test_arbitrary_pickled_objects_are_not_loaded(tmp_path):
    path = tmp_path / "object.ckpt"
    torch.save({"cgt": dict(ENTRY), "state_dict": {}, "evil": CheckpointError("x")}, path)
    with pytest.raises(CheckpointError, match="object.ckpt could not be read"):
        read_checkpoint(path)


def test_newer_schema_asks_for_an_upgrade(tmp_path):
    entry = {**ENTRY, "schema_version": SCHEMA_VERSION + 1, "cgt_version": "9.0"}
    with pytest.raises(CheckpointError, match="newer than this cgt understands.*cgt 9.0"):
        read_checkpoint(save(tmp_path / "new.ckpt", entry))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": None}, "schema_version"),
        ({"task": "ranking"}, "'task' is 'ranking'"),
        ({"target_names": []}, "target_names"),
        ({"target_names": ["a", "a"]}, "duplicates"),
        ({"target_mean": [1.0]}, "one number per target"),
        ({"target_std": [1.0, 0.0]}, "positive"),
        ({"target_mean": [float("nan"), 1.0]}, "finite"),
        ({"target_mean": None, "target_std": None}, "regression checkpoint needs"),
        ({"model_config": "hidden=8"}, "model_config"),
        ({"featurizer": ""}, "featurizer"),
    ],
)
def test_malformed_entries_are_refused(tmp_path, change, message):
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(save(tmp_path / "m.ckpt", {**ENTRY, **change}))


def test_missing_keys_are_listed(tmp_path):
    entry = {k: v for k, v in ENTRY.items() if k not in ("vocabulary", "config")}
    with pytest.raises(CheckpointError, match="lacks vocabulary, config"):
        read_checkpoint(save(tmp_path / "k.ckpt", entry))


def test_classification_without_statistics(tmp_path):
    entry = {**ENTRY, "task": "classification", "target_mean": None, "target_std": None}
    info, _ = read_checkpoint(save(tmp_path / "c.ckpt", entry))
    assert info.task == "classification" and info.target_mean is None


def test_weights_without_state_dict_are_refused(tmp_path):
    path = tmp_path / "nostate.ckpt"
    torch.save({"cgt": dict(ENTRY)}, path)
    with pytest.raises(CheckpointError, match="without model weights"):
        read_checkpoint(path)
