"""The checkpoint contract (cgt.checkpoint): reading and validating hand-made files, writing
the metadata, and rebuilding the model from them."""

from __future__ import annotations

import copy

import pytest
import torch
from torch_geometric.data import Batch

from cgt.checkpoint import (
    REQUIRED_KEYS,
    SCHEMA_VERSION,
    CheckpointError,
    checkpoint_metadata,
    model_from_checkpoint,
    read_checkpoint,
)
from cgt.data import featurize_smiles
from cgt.data.featurizers import get_featurizer
from cgt.model import CGT
from cgt.version import __version__

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


# Writing the entry and rebuilding the model: checkpoint_metadata and model_from_checkpoint.

SMALL = dict(channels=8, layers=1, heads=2, steps=4)


def metadata(model: CGT, **change) -> dict:
    settings = dict(
        featurizer="zinc",
        target_names=["logp"],
        task="regression",
        target_mean=[2.5],
        target_std=[1.4],
        model_config=model.config,
        config={"seed_everything": 0},
    )
    return checkpoint_metadata(**{**settings, **change})


def save_model(path, model: CGT, entry: dict | None = None):
    """``model`` saved as CGTModule saves it: parameters under ``model.``, plus the entry."""
    state = {f"model.{key}": value for key, value in model.state_dict().items()}
    state["target_mean"] = torch.zeros(1)  # the LightningModule's own buffers are ignored
    torch.save({"state_dict": state, "cgt": entry or metadata(model)}, path)
    return path


def test_metadata_holds_exactly_the_required_keys():
    torch.manual_seed(0)
    model = CGT(**SMALL)
    entry = metadata(model)
    assert tuple(entry) == REQUIRED_KEYS
    assert entry["schema_version"] == SCHEMA_VERSION and entry["cgt_version"] == __version__
    assert entry["vocabulary"] == get_featurizer("zinc").vocabulary
    assert entry["model_config"] == model.config and entry["model_config"] is not model.config
    assert (
        metadata(model, task="classification", target_mean=None, target_std=None)["target_mean"]
        is None
    )


def test_model_round_trip(tmp_path):
    torch.manual_seed(0)
    model = CGT(**SMALL, backend="torch").eval()
    path = save_model(tmp_path / "model.ckpt", model)
    rebuilt, info = model_from_checkpoint(path)
    assert info.path == path and info.target_names == ("logp",) and info.target_mean == (2.5,)
    assert rebuilt.config == {**model.config, "backend": "auto"}  # a runtime choice
    batch = Batch.from_data_list([featurize_smiles(s) for s in ("CCO", "c1ccccc1O")])
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(batch), model(batch))


@pytest.mark.parametrize("featurizer", ["zinc", "atom"])
def test_a_schema_1_checkpoint_loads_as_it_predicted(tmp_path, featurizer):
    """cgt 0.1.0 named the featurizer in model_config and embedded ZINC atom types with a
    plain nn.Embedding; such a file must still load and predict the same."""
    torch.manual_seed(0)
    inputs = get_featurizer(featurizer).model_inputs.as_config()
    model = CGT(**{**SMALL, "ring": "sssr"}, **inputs, backend="torch").eval()
    entry = metadata(model, featurizer=featurizer)
    entry["schema_version"] = 1
    old_config = {k: v for k, v in model.config.items() if k not in inputs}
    old_config["ring"] = "paper"  # before schema 3, "paper" meant SSSR rings
    old_config["featurizer"] = featurizer
    if featurizer == "zinc":
        old_config["num_atom_types"] = 28
        old_config["atom_feature_sizes"] = old_config["bond_feature_sizes"] = None
    else:
        old_config["num_atom_types"] = 28
        old_config["atom_feature_sizes"] = inputs["node_feature_sizes"]
        old_config["bond_feature_sizes"] = inputs["bond_feature_sizes"]
    entry["model_config"] = old_config
    state = {f"model.{key}": value for key, value in model.state_dict().items()}
    if featurizer == "zinc":
        state["model.node_encoder.atom.weight"] = state.pop(
            "model.node_encoder.atom.embeddings.0.weight"
        )
    path = tmp_path / "v1.ckpt"
    torch.save({"state_dict": state, "cgt": entry}, path)
    rebuilt, info = model_from_checkpoint(path)
    assert info.schema_version == 1 and rebuilt.config == {**model.config, "backend": "auto"}
    batch = Batch.from_data_list([featurize_smiles(s, featurizer) for s in ("CCO", "c1ccccc1O")])
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(batch), model(batch))


def test_a_changed_vocabulary_is_refused(tmp_path):
    model = CGT(**SMALL)
    entry = metadata(model)
    entry["vocabulary"] = {**entry["vocabulary"], "atom_types": ["C", "N", "O"]}
    with pytest.raises(CheckpointError, match=r"vocab\.ckpt .*different vocabulary.*'zinc'"):
        model_from_checkpoint(save_model(tmp_path / "vocab.ckpt", model, entry))


def test_an_unknown_featurizer_is_refused(tmp_path):
    model = CGT(**SMALL)
    entry = {**metadata(model), "featurizer": "morgan"}
    with pytest.raises(CheckpointError, match=r"feat\.ckpt .*featurizer 'morgan'.*does not have"):
        model_from_checkpoint(save_model(tmp_path / "feat.ckpt", model, entry))


def test_a_model_config_that_cannot_be_built_is_refused(tmp_path):
    model = CGT(**SMALL)
    entry = metadata(model)
    entry["model_config"]["wings"] = 2
    with pytest.raises(CheckpointError, match=r"config\.ckpt has a model_config .*wings"):
        model_from_checkpoint(save_model(tmp_path / "config.ckpt", model, entry))


def test_weights_that_do_not_fit_are_refused(tmp_path):
    model = CGT(**SMALL)
    wider = metadata(model)
    wider["model_config"]["channels"] = 16
    with pytest.raises(CheckpointError, match=r"wide\.ckpt: the weights do not fit"):
        model_from_checkpoint(save_model(tmp_path / "wide.ckpt", model, wider))
    deeper = metadata(model)
    deeper["model_config"]["layers"] = 2
    with pytest.raises(
        CheckpointError, match=r"deep\.ckpt: .*missing: layers\.1\..*unexpected: none"
    ):
        model_from_checkpoint(save_model(tmp_path / "deep.ckpt", model, deeper))


def test_a_schema_2_paper_model_loads_as_the_sssr_model_it_was(tmp_path):
    """Before schema 3, ring="paper" meant SSSR rings: such a file must rebuild with
    ring="sssr" and predict as it did; today's "paper" (chordless cycles) differs on a
    bridged molecule, so reading it as "paper" would have changed its predictions."""
    torch.manual_seed(0)
    model = CGT(**{**SMALL, "ring": "sssr"}, backend="torch").eval()
    entry = metadata(model)
    entry["schema_version"] = 2
    entry["model_config"] = {**model.config, "ring": "paper"}
    rebuilt, info = model_from_checkpoint(save_model(tmp_path / "v2.ckpt", model, entry))
    assert info.schema_version == 2 and rebuilt.config["ring"] == "sssr"
    batch = Batch.from_data_list([featurize_smiles(s) for s in ("C1CC2CCC1C2", "CCO")])
    paper = CGT(**{**SMALL, "ring": "paper"}, backend="torch").eval()
    paper.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(batch), model(batch))
        assert not torch.allclose(paper(batch)[0], model(batch)[0])  # norbornane differs
        torch.testing.assert_close(paper(batch)[1], model(batch)[1])  # ethanol has no ring
    entry["schema_version"] = 3
    rebuilt, _ = model_from_checkpoint(save_model(tmp_path / "v3.ckpt", model, entry))
    assert rebuilt.config["ring"] == "paper"
