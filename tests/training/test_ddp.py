"""Two CPU processes over gloo: the SFT recipe runs as real DDP and the replicas end identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.training.conftest import ROOT


def test_sft_recipe_under_two_process_ddp(tmp_path, tiny_llama_path):
    from safetensors.torch import load_file

    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    # Not `--cpu`: accelerate's multi-CPU path silently starts one process without mpirun.
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no",
        str(ROOT / "recipes" / "sft.py"),
        "--config", str(ROOT / "recipes/tiny-random/sft/config_tiny.yaml"),
        "--output_dir", str(tmp_path), "--max_steps", "4", "--eval_users", "4",
        "--write_rank_fingerprints", "true",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [
        json.loads((tmp_path / "rank_fingerprints" / f"rank{r}.json").read_text()) for r in (0, 1)
    ]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert ranks[0]["sha256"] == ranks[1]["sha256"]
    metrics = json.loads((tmp_path / "eval_metrics.json").read_text())
    assert metrics["world_size"] == 2
    weights = load_file(str(tmp_path / "adapter_model.safetensors"))
    assert all(v.abs().sum() > 0 for k, v in weights.items() if "lora_B" in k)


def test_accelerate_configs_load_with_the_declared_backend():
    from accelerate.commands.config.config_args import load_config_from_file

    expected = {
        "single_cpu": ("NO", "no", True),
        "single_gpu": ("NO", "bf16", False),
        "ddp": ("MULTI_GPU", "bf16", False),
        "zero3": ("DEEPSPEED", "bf16", False),
        "fsdp": ("FSDP", "bf16", False),
    }
    folder = ROOT / "recipes" / "accelerate_configs"
    assert {p.stem for p in folder.glob("*.yaml")} == set(expected)
    for name, (backend, precision, cpu) in expected.items():
        config = load_config_from_file(str(folder / f"{name}.yaml"))
        assert config.distributed_type.value == backend
        assert config.mixed_precision == precision and config.use_cpu is cpu
