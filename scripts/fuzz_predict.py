"""Hostile input through prediction: seeded fuzzed strings, and what came back.

    python scripts/fuzz_predict.py [--count 10000] [--seed 0] [--checkpoint CKPT]

The inputs (:func:`fuzzed_inputs`): random edits of real ZINC SMILES (characters deleted,
inserted, replaced, swapped; from the SMILES alphabet, printable ASCII, control characters
and unicode, lone surrogates included), random printable and random unicode strings, very
long strings (up to 20,000 characters, valid long chains among them), empty and whitespace
strings, and ``None`` / NaN cells. Each goes through ``CGTPredictor.predict`` (with an
untrained small model unless ``--checkpoint`` is given) and, those a CSV file can hold,
through the predict command line. Prints: strings tried, exceptions that escaped, rows
dropped or reordered, bad rows without a one-line reason, and the most common reasons.
``tests/test_reliability.py`` runs the same checks on fewer strings.
"""

from __future__ import annotations

import argparse
import collections
import io
import math
import random
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this tree's cgt

SMILES_ALPHABET = "CNOSPFIBrclnospH[]()=#@+-\\/%0123456789.*:$~"
UNICODE = "éßøΩЖ中文ⲘＣ\u00a0\u200b\u202e\ufeff\u0301\U0001f600\udc80\ud800"
CONTROL = "\x00\x01\t\n\r\x0b\x0c\x1b\x7f"


def zinc_smiles(count: int, rng: random.Random) -> list[str]:
    import pandas as pd

    from cgt.data.zinc import zinc_source

    smiles = pd.read_csv(zinc_source(), usecols=["smiles"])["smiles"].tolist()
    return rng.sample(smiles, min(count, len(smiles)))


def _char(rng: random.Random) -> str:
    pool = rng.random()
    if pool < 0.6:
        return rng.choice(SMILES_ALPHABET)
    if pool < 0.8:
        return chr(rng.randint(32, 126))
    if pool < 0.9:
        return rng.choice(CONTROL)
    if pool < 0.95:
        return rng.choice(UNICODE)
    return chr(rng.randint(0x80, 0x10FFFF))


def _edit(smiles: str, rng: random.Random) -> str:
    chars = list(smiles)
    for _ in range(rng.randint(1, 4)):
        where = rng.randrange(len(chars) + 1)
        action = rng.randrange(4)
        if action == 0 and chars:
            del chars[min(where, len(chars) - 1)]
        elif action == 1:
            chars.insert(where, _char(rng))
        elif action == 2 and chars:
            chars[min(where, len(chars) - 1)] = _char(rng)
        elif len(chars) > 1:
            i = rng.randrange(len(chars) - 1)
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    if rng.random() < 0.1:  # a character at the very end (the truncation defect)
        chars.append(rng.choice(UNICODE))
    return "".join(chars)


def fuzzed_inputs(count: int, seed: int = 0) -> list[object]:
    """``count`` seeded hostile inputs (strings, ``None``, NaN), in a fixed order."""
    rng = random.Random(seed)
    real = zinc_smiles(max(50, count // 4), rng)
    out: list[object] = []
    while len(out) < count:
        kind = rng.random()
        if kind < 0.55:
            out.append(_edit(rng.choice(real), rng))
        elif kind < 0.65:
            out.append(rng.choice(real))  # valid rows among the bad ones
        elif kind < 0.75:
            out.append("".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(1, 40))))
        elif kind < 0.83:
            out.append("".join(_char(rng) for _ in range(rng.randint(1, 30))))
        elif kind < 0.88:
            size = rng.choice([1000, 5000, 20000])
            unit = rng.choice(["C", "CC(", "c1ccccc1", "[", "C1" * 3, "é"])
            out.append((unit * (size // len(unit) + 1))[:size])
        elif kind < 0.93:
            out.append(rng.choice(["", " ", "\t", "\n", "   \n ", "\u00a0", "\u3000"]))
        else:
            out.append(rng.choice([None, math.nan, float("nan")]))
    return out


def small_checkpoint(folder: Path) -> Path:
    """An untrained small model saved as a cgt checkpoint (its outputs do not matter)."""
    import torch

    from cgt.system import CGTModule

    torch.manual_seed(0)
    module = CGTModule(channels=16, layers=2, heads=4, steps=4)
    path = folder / "fuzz.ckpt"
    torch.save({"state_dict": module.state_dict(), "cgt": module.cgt_metadata()}, path)
    return path


def check_api(inputs: list[object], checkpoint: Path) -> dict[str, object]:
    """Predicts ``inputs``; returns the figures (an escaped exception is recorded)."""
    from cgt.inference import load_model

    predictor = load_model(checkpoint)
    try:
        table = predictor.predict(inputs, batch_size=32)
    except Exception as error:  # the very thing being tested for
        return {"exception": f"{type(error).__name__}: {error}"}
    same = len(table) == len(inputs) and all(
        a is b or a == b or (isinstance(a, float) and isinstance(b, float) and a != a)
        for a, b in zip(table["smiles"].tolist(), inputs, strict=True)
    )
    errors = table["error"].tolist()
    bad = [e for e in errors if e]
    predicted = table.drop(columns=["smiles", "error"]).notna().all(axis=1).tolist()
    return {
        "exception": None,
        "rows": len(table),
        "same_rows_in_order": same,
        "valid": len(errors) - len(bad),
        "bad": len(bad),
        "bad_without_one_line_reason": sum(not e.strip() or "\n" in e for e in bad),
        "valid_without_prediction": sum(
            1 for e, p in zip(errors, predicted, strict=True) if not e and not p
        ),
        "bad_with_prediction": sum(1 for e, p in zip(errors, predicted, strict=True) if e and p),
        "reasons": collections.Counter(e.split(":")[0] for e in bad).most_common(8),
    }


def check_cli(inputs: list[object], checkpoint: Path, folder: Path) -> dict[str, object]:
    """The inputs a UTF-8 CSV file can hold, through ``python -m cgt.predict --input``."""
    import pandas as pd

    from cgt.cli.predict import main

    cells = ["" if not isinstance(s, str) else s for s in inputs]
    cells = [s for s in cells if _utf8(s)]
    source, output = folder / "fuzz.csv", folder / "predictions.csv"
    pd.DataFrame({"smiles": cells}).to_csv(source, index=False)
    expected = pd.read_csv(source, dtype=str, keep_default_na=False)["smiles"].tolist()
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            code = main(["--checkpoint", str(checkpoint), "--input", str(source),
                         "--output", str(output), "--no-progress"])  # fmt: skip
    except BaseException as error:  # noqa: BLE001 - SystemExit included
        return {"exception": f"{type(error).__name__}: {error}"}
    table = pd.read_csv(output, dtype=str, keep_default_na=False)
    bad = table["error"] != ""
    return {
        "exception": None,
        "exit": code,
        "rows": len(table),
        "same_rows_in_order": table["smiles"].tolist() == expected,
        "bad": int(bad.sum()),
        "bad_without_one_line_reason": int((table.loc[bad, "error"].str.strip() == "").sum()),
    }


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path)
    args = parser.parse_args()
    inputs = fuzzed_inputs(args.count, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        checkpoint = args.checkpoint or small_checkpoint(folder)
        start = time.perf_counter()
        api = check_api(inputs, checkpoint)
        api_s = time.perf_counter() - start
        start = time.perf_counter()
        cli = check_cli(inputs, checkpoint, folder)
        cli_s = time.perf_counter() - start
    print(f"{len(inputs)} fuzzed inputs, seed {args.seed}")
    print(f"predict (API, {api_s:.0f} s): {api}")
    print(f"predict CLI (--input CSV, UTF-8-encodable cells, {cli_s:.0f} s): {cli}")


if __name__ == "__main__":
    main()
