"""benchmarks/gpu_train.py, the prepared GPU training run, checked on the CPU: it builds
its graph cache here and trains from it with RDKit unavailable (as on the GPU machine)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu_train.py"

BLOCK_RDKIT = """
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "rdkit":
            raise ImportError(f"{name} is blocked for this test")
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_cache_then_training_without_rdkit(tmp_path: Path) -> None:
    cache, summary = tmp_path / "graphs.pt", tmp_path / "summary.json"
    subprocess.run([sys.executable, str(SCRIPT), "--make-cache", str(cache)], check=True)
    assert cache.stat().st_size > 0
    args = ["--cache", str(cache), "--minutes", "0.05", "--limit-batches", "2"]
    args += ["--backend", "torch", "--json", str(summary)]
    subprocess.run(
        [sys.executable, "-c", BLOCK_RDKIT, str(SCRIPT), *args], check=True, cwd=tmp_path
    )
    result = json.loads(summary.read_text())
    assert result["epochs"] >= 1
    assert all(mae == mae and mae > 0 for mae in result["val_mae"])  # finite, not NaN
