"""Runs the steps of ``eval/gpu/check.sh`` (see there) and prints one JSON line.

Each step is a subprocess with its own time limit; a failed step is reported with the tail of
its log and the others still run. Logs go to ``--out`` (default a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = """
import json, torch, transformers
out = {"torch": torch.__version__, "transformers": transformers.__version__,
       "cuda": torch.cuda.is_available()}
if torch.cuda.is_available():
    out["gpu"] = torch.cuda.get_device_name(0)
    out["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
try:
    import vllm
    out["vllm"] = vllm.__version__
except ImportError as err:
    out["vllm"] = f"missing: {err}"
print(json.dumps(out))
"""


def run(name: str, command: list[str], limit: float, out: Path) -> dict:
    log = out / f"{name}.log"
    start = time.perf_counter()
    with open(log, "w") as handle:
        try:
            rc = subprocess.run(
                command, stdout=handle, stderr=subprocess.STDOUT, timeout=limit
            ).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    lines = log.read_text(errors="replace").strip().splitlines() or [""]
    result: dict = {"ok": rc == 0, "rc": rc, "seconds": round(time.perf_counter() - start, 1)}
    try:
        result["result"] = json.loads(lines[-1])
    except ValueError:
        result["tail"] = lines[-5:]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None, help="folder for logs and training outputs")
    parser.add_argument("--users", type=int, default=64)
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="llmrec-gpu-"))
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    steps = {}
    steps["env"] = run("env", [py, "-c", ENV], 120, out)
    steps["engines"] = run(
        "engines",
        [py, "eval/bench/engines.py", "--users", str(args.users), "--engines",
         "transformers,vllm", "--load-seconds", "0", "--device", "cuda"],
        300, out,
    )  # fmt: skip
    for name, config in (("sft_bf16", "config_bf16.yaml"), ("qlora", "config_qlora.yaml")):
        steps[name] = run(
            name,
            [py, "-m", "accelerate.commands.launch", "--config_file",
             "recipes/accelerate_configs/single_gpu.yaml", "recipes/sft.py", "--config",
             f"recipes/smollm2/sft/{config}", "--max_steps", "2", "--train_users", "64",
             "--eval_users", "16", "--output_dir", str(out / name)],
            120, out,
        )  # fmt: skip
    summary = {
        "check": "gpu",
        "ok": all(s["ok"] for s in steps.values()),
        "logs": str(out),
        **steps,
    }
    print(json.dumps(summary, default=str))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
