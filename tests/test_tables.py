"""Table files in chunks (cgt.tables): every format, ranges, row positions."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

import cgt.tables
from cgt.tables import count_rows, input_format, merge_parts, output_format, read_chunks, write_part

ROWS = 23


@pytest.fixture
def table():
    return pd.DataFrame(
        {
            "id": [f"{i:03d}" for i in range(ROWS)],
            "smiles": ["C" * (i % 5 + 1) for i in range(ROWS)],
        }
    )


@pytest.fixture(params=["csv", "csv.gz", "smi", "smi.gz", "parquet"])
def source(request, table, tmp_path):
    path = tmp_path / f"mols.{request.param}"
    if request.param.startswith("csv"):
        table.to_csv(path, index=False)
    elif request.param.startswith("smi"):
        text = "".join(f"{s} {i}\n" for s, i in zip(table["smiles"], table["id"], strict=True))
        opener = gzip.open if request.param.endswith(".gz") else open
        with opener(path, "wt") as handle:
            handle.write(text)
    else:
        table.to_parquet(path, index=False)
    return path


def text_of(frame: pd.DataFrame) -> list[str]:
    return [str(s) for s in frame["smiles"]]


@pytest.mark.parametrize(
    ("start", "stop", "rows"), [(0, None, 5), (3, None, 5), (3, 17, 4), (22, 23, 1), (0, ROWS, 100)]
)
def test_chunks_cover_the_range_with_file_positions(source, table, start, stop, rows, monkeypatch):
    raw_sizes = []
    raw = cgt.tables._raw_chunks

    def spy(path, size):
        for frame in raw(path, size):
            raw_sizes.append(len(frame))
            yield frame

    monkeypatch.setattr(cgt.tables, "_raw_chunks", spy)
    chunks = list(read_chunks(source, rows, start, stop))
    end = ROWS if stop is None else stop
    assert [len(c) for c in chunks[:-1]] == [rows] * (len(chunks) - 1)  # exact chunks
    assert 0 < len(chunks[-1]) <= rows
    assert [i for c in chunks for i in c.index] == list(range(start, end))
    assert sum(map(text_of, chunks), []) == table["smiles"].tolist()[start:end]
    assert max(raw_sizes) <= rows  # the file is read in chunks, never whole
    if stop is not None:  # reading stops at `stop`
        assert sum(raw_sizes) <= (stop // rows + 1) * rows


def test_an_empty_range_gives_the_columns(source):
    (empty,) = read_chunks(source, 4, ROWS, None)
    assert len(empty) == 0 and "smiles" in empty.columns


def test_count_rows_and_formats(source):
    assert count_rows(source) == ROWS
    assert input_format(source) in source.name
    assert output_format("x.parquet") == "parquet" and output_format("x.csv.gz") == "csv.gz"
    assert output_format("x.txt") == "csv"


def test_smi_lines_names_and_empty_lines(tmp_path):
    path = tmp_path / "lib.smi"
    path.write_text("CCO ethanol\nc1ccccc1\tbenzene ring\n\nCCN\n")
    (frame,) = read_chunks(path, 10)
    assert frame["smiles"].tolist() == ["CCO", "c1ccccc1", "", "CCN"]
    assert frame["name"].tolist() == ["ethanol", "benzene ring", "", ""]
    assert count_rows(path) == 4


def test_csv_cells_are_kept_as_text(tmp_path):
    path = tmp_path / "mols.csv"
    path.write_text('id,smiles,note\n007,CCO,"a, b"\n008,,NA\n')
    (frame,) = read_chunks(path, 10)
    assert frame.to_dict("list") == {
        "id": ["007", "008"],
        "smiles": ["CCO", ""],
        "note": ["a, b", "NA"],
    }


@pytest.mark.parametrize(
    ("name", "content", "column", "message"),
    [
        ("missing.csv", None, "smiles", "missing.csv does not exist"),
        ("mols.csv", "mol\nCCO\n", "smiles", "no column 'smiles'"),
        ("x.smi", "CCO\n", "mol", "no column 'mol'.*smiles and name"),
    ],
)
def test_clear_errors(tmp_path, name, content, column, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message):
        count_rows(path, column)


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_parts_merge_into_one_file(tmp_path, table, fmt):
    parts = []
    for i, first in enumerate(range(0, ROWS, 10)):
        parts.append(tmp_path / f"part-{i}")
        write_part(table.iloc[first : first + 10], parts[-1], fmt, header=i == 0)
    merged = tmp_path / f"all.{fmt}"
    merge_parts(parts, merged, fmt)
    if fmt == "parquet":
        back = pd.read_parquet(merged)
    else:
        back = pd.read_csv(merged, dtype=str)
    pd.testing.assert_frame_equal(back, table)
    assert not list(tmp_path.glob("*.tmp"))
