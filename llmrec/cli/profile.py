"""``llmrec profile``: profiles for many users into JSONL, resumable and sharded.

Examples:
    llmrec profile --data ml-100k --model smollm2-135m-instruct --users 64 --out profiles.jsonl
    llmrec profile --data ml-100k --users 64 --out p.jsonl --format structured --strategy recent
    llmrec profile --data ml-100k --out p.jsonl --model openai:http://127.0.0.1:8000/v1#smol
    llmrec profile --data ml-100k --users 64 --out p.jsonl --engine ray --workers 2
    torchrun --nproc_per_node 2 -m llmrec.cli.main profile --data ml-100k --out p.jsonl
    accelerate launch --multi_gpu --num_processes 4 -m llmrec.cli.main profile --out p.jsonl
    llmrec profile --data ml-100k --model smollm2-135m-instruct --adapter runs/dpo \
        --strategy recent --last-n 20 --out p.jsonl   # the profile writer the DPO recipe trained
"""

from __future__ import annotations

import argparse

from llmrec.cli._engine import add_engine_args, ray_engine

NAME = "profile"
HELP = "generate user profiles from training histories (JSONL; resumable; sharded)"


def register(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    data.add_argument("--data", default="ml-100k", help="dataset name or path")
    data.add_argument(
        "--split",
        default="leave_one_out",
        choices=["leave_one_out", "none"],
        help="profiles see the training part only (none: every interaction is training)",
    )
    data.add_argument("--users", type=int, default=None, help="first N users (default all)")
    data.add_argument("--out", required=True, help="output JSONL (appended; resumed)")
    model = parser.add_argument_group("model")
    model.add_argument("--model", default="smollm2-135m-instruct", help="backend spec")
    model.add_argument(
        "--backend",
        choices=["auto", "transformers", "vllm"],
        default="auto",
        help="for a local model: auto = vLLM where it is installed (the faster engine), else "
        "transformers (always with --adapter)",
    )
    model.add_argument(
        "--adapter",
        default=None,
        help="LoRA adapter folder on top of --model (a local model), e.g. the DPO recipe's output",
    )
    model.add_argument("--device", default=None)
    model.add_argument("--dtype", default=None)
    model.add_argument("--quantization", choices=["8bit", "4bit"], default=None)
    model.add_argument("--batch-size", type=int, default=32, help="users per batch and write")
    model.add_argument("--max-new-tokens", type=int, default=None)
    model.add_argument("--temperature", type=float, default=0.0)
    model.add_argument("--seed", type=int, default=None)
    model.add_argument(
        "--repetition-penalty",
        type=float,
        default=None,
        help="1.0 = off (default: the profile builder's, 1.1)",
    )
    model.add_argument("--cache", default=None, help="response cache file (default in LLMREC_HOME)")
    model.add_argument("--no-cache", action="store_true", help="always call the model")
    prof = parser.add_argument_group("profile")
    prof.add_argument("--format", choices=["free", "structured"], default="free")
    prof.add_argument(
        "--strategy",
        choices=["grounded", "whole", "recent", "hierarchical", "incremental"],
        default="grounded",
        help="grounded (default): facts computed from the history, written up by the model",
    )
    prof.add_argument("--sample", type=int, default=None, help="grounded: items shown (5)")
    prof.add_argument(
        "--attribute", default=None, help="grounded: categorical item field (default genres)"
    )
    prof.add_argument("--prompt", default=None, help="template name or your own .jinja file")
    prof.add_argument("--token-budget", type=int, default=None, help="whole/incremental")
    prof.add_argument("--last-n", type=int, default=None, help="recent/incremental: last N items")
    prof.add_argument("--days", type=float, default=None, help="recent: last D days")
    prof.add_argument("--chunk-size", type=int, default=None, help="hierarchical")
    prof.add_argument("--previous", default=None, help="incremental: earlier profiles JSONL")
    prof.add_argument("--since", type=float, default=None, help="incremental: new after time")
    prof.add_argument("--max-repairs", type=int, default=2, help="structured: regenerations")
    run = parser.add_argument_group("run")
    run.add_argument("--shard", default=None, help="i/n: this process's shard (default from env)")
    run.add_argument("--merge", action="store_true", help="only merge finished shard parts")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    add_engine_args(parser)
    parser.set_defaults(func=main)


def resolve_spec(model: str, backend: str) -> str:
    """The backend spec for ``--model`` under ``--backend`` (``auto``: vLLM when usable)."""
    from llmrec.backends import parse_spec

    kind, parsed = parse_spec(model)
    if kind != "transformers" or backend == "transformers":
        return model
    if backend == "auto":
        from llmrec.backends.vllm import vllm_usable

        if not vllm_usable():
            return model
    return f"vllm:{parsed['model']}"


def main(args: argparse.Namespace) -> int:
    import json
    import os
    from dataclasses import asdict

    from llmrec.backends import load_backend
    from llmrec.backends.base import GenerationParams
    from llmrec.context.profile_files import read_profile_texts
    from llmrec.data import leave_one_out, load_dataset
    from llmrec.paths import home
    from llmrec.profiles.builder import (
        DEFAULT_MAX_NEW_TOKENS,
        DEFAULT_REPETITION_PENALTY,
        ProfileBuilder,
    )
    from llmrec.profiles.job import merge_parts, parse_shard, run_profile_job
    from llmrec.profiles.strategies import make_strategy

    dataset = load_dataset(args.data)
    train = leave_one_out(dataset).train if args.split == "leave_one_out" else dataset
    users = train.active_users()
    if args.users is not None:
        if args.users < 1:
            raise ValueError(f"--users must be >= 1, got {args.users}")
        users = users[: args.users]
    if args.merge:
        print(json.dumps({"merged": merge_parts(args.out, users), "out": args.out}))
        return 0

    previous = None
    if args.strategy == "incremental":
        if not args.previous:
            raise ValueError("--strategy incremental needs --previous <profiles.jsonl>")
        previous = read_profile_texts(args.previous)
    strategy = make_strategy(
        args.strategy,
        token_budget=args.token_budget,
        last_n=args.last_n,
        days=args.days,
        chunk_size=args.chunk_size,
        previous=previous,
        since=args.since,
        sample=args.sample,
        attribute=args.attribute,
    )
    options = {
        "device": args.device,
        "dtype": args.dtype,
        "quantization": args.quantization,
        "batch_size": args.batch_size,
    }
    # An adapter sits on the Transformers backend, so it keeps that backend.
    spec = args.model if args.adapter else resolve_spec(args.model, args.backend)
    is_local = not str(spec).startswith(("openai:", "http://", "https://", "vllm:"))
    kwargs = {k: v for k, v in options.items() if v is not None and is_local}
    local_rank = os.environ.get("LOCAL_RANK")
    if is_local and args.device is None and local_rank is not None:
        import torch

        if torch.cuda.is_available():  # one GPU per process under torchrun / accelerate
            kwargs["device"] = f"cuda:{int(local_rank) % torch.cuda.device_count()}"
    params = GenerationParams(
        max_new_tokens=args.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[args.format],
        temperature=args.temperature,
        seed=args.seed,
        repetition_penalty=(
            DEFAULT_REPETITION_PENALTY
            if args.repetition_penalty is None
            else args.repetition_penalty
        ),
    )
    builder_kwargs = {
        "strategy": strategy,
        "format": args.format,
        "params": params,
        "prompt": args.prompt,
        "max_repairs": args.max_repairs,
    }
    if args.engine == "ray":
        from functools import partial

        if args.adapter:
            raise ValueError("--adapter runs with --engine local only; merge the adapter first")

        from llmrec.engines.jobs import make_profile_builder, profile_job

        # One SQLite cache per machine is not shared across nodes: only when asked for.
        make = partial(make_profile_builder, spec, kwargs, args.cache, **builder_kwargs)
        settings = {"model": spec, "strategy": strategy.describe(), "format": args.format}
        settings.update(prompt=args.prompt, params=str(params))
        result = profile_job(
            make, train, users, args.out, ray_engine(args, not args.quiet), args.batch_size,
            settings,
        )  # fmt: skip
        summary = asdict(result)
        summary["path"] = str(result.path)
        print(json.dumps(summary))
        return 0
    cache = None if args.no_cache else (args.cache or os.path.join(home(), "responses.sqlite"))
    if args.adapter:
        if not is_local:
            raise ValueError(
                f"--adapter needs a local --model, got {args.model!r}; serve the merged model "
                "behind the server instead"
            )
        from llmrec.backends.adapter import adapter_backend

        backend = adapter_backend(args.model, args.adapter, cache=cache, **kwargs)
    else:
        backend = load_backend(spec, cache=cache, **kwargs)
    builder = ProfileBuilder(backend, **builder_kwargs)
    shard = parse_shard(args.shard) if args.shard else None
    result = run_profile_job(
        builder,
        train,
        users,
        args.out,
        batch_size=args.batch_size,
        shard=shard,
        progress=not args.quiet,
    )
    summary = asdict(result)
    summary["path"] = str(result.path)
    summary["usage"] = asdict(backend.usage)
    print(json.dumps(summary))
    return 0
