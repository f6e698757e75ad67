"""``llmrec embed``: encode users, train an instruction-aware encoder, evaluate embeddings."""

from __future__ import annotations

import argparse

from llmrec.cli._engine import add_engine_args, ray_engine

NAME = "embed"
HELP = "instruction-aware user embeddings: encode users, train on UserQA, evaluate"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="embed_command", metavar="ACTION", required=True)

    users = sub.add_parser("users", help="embed the users of a dataset into a table")
    users.add_argument("--data", default="ml-100k", help="dataset name or path")
    users.add_argument(
        "--model", default="all-minilm-l6-v2", help="alias, hub id or trained folder"
    )
    users.add_argument("--instruction", default=None, help="instruction I (default: none)")
    users.add_argument(
        "--sources",
        nargs="+",
        default=None,
        help="user sources: profile attributes history (default: the model's, else attributes history)",
    )
    users.add_argument(
        "--profiles",
        default=None,
        help="profile file: llmrec profile output or {user_id, profile} rows (JSONL or Parquet)",
    )
    users.add_argument("--max-history-tokens", type=int, default=None)
    users.add_argument(
        "--split",
        choices=["loo", "none"],
        default="loo",
        help="loo: embed from leave-one-out training interactions (default); none: all of them",
    )
    users.add_argument("--batch-size", type=int, default=32)
    users.add_argument("--device", default=None)
    users.add_argument("--items", default=None, help="also write item embeddings to this path")
    users.add_argument(
        "--out", required=True, help="output table (.safetensors or .parquet, with ids)"
    )
    add_engine_args(users, shard_size=1024)
    users.set_defaults(func=_users)

    train = sub.add_parser(
        "train",
        help="train on UserQA (same as recipes/embed.py)",
        description="Train with recipes/embed.py's arguments: a recipe YAML, then overrides "
        "such as --output_dir DIR --num_train_epochs 2 (dataclass < YAML < command line).",
    )
    train.add_argument("config", help="recipe YAML, e.g. recipes/minilm/embed/config_full.yaml")
    train.add_argument("overrides", nargs=argparse.REMAINDER, help="--key value pairs")
    train.set_defaults(func=_train)

    ev = sub.add_parser("eval", help="probes, retrieval and instruction sensitivity with CIs")
    ev.add_argument("--data", default="ml-100k")
    ev.add_argument("--trained", default=None, help="a trained encoder folder to add to the table")
    ev.add_argument("--base", default="all-minilm-l6-v2", help="the untuned encoder")
    ev.add_argument("--eval-fraction", type=float, default=0.5)
    ev.add_argument("--split-seed", type=int, default=0)
    ev.add_argument("--max-users", type=int, default=None, help="cap evaluation users (quick runs)")
    ev.add_argument("--max-history-tokens", type=int, default=64)
    ev.add_argument("--k", type=int, default=10)
    ev.add_argument("--n-boot", type=int, default=1000)
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default=None)
    ev.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="rows to compute (default all): history_mean base_no_instruction base_instruction "
        "trained_no_instruction trained_instruction",
    )
    ev.add_argument(
        "--baselines",
        nargs="*",
        default=["most_popular", "ease"],
        help="retrieval baselines fit on the training interactions: most_popular ease "
        "(default both; none: pass the flag alone)",
    )
    ev.add_argument(
        "--popmatched-negatives",
        type=int,
        default=99,
        help="popularity-matched negatives per test item for the pm_* metrics (0: none)",
    )
    ev.add_argument(
        "--cache-dir",
        default=None,
        help="cache of a residual model's text embeddings (heads sharing a frozen text encoder)",
    )
    ev.add_argument("--out", default="results.json", help="where to write results.json")
    ev.set_defaults(func=_eval)


def _users(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llmrec.context.profile_files import read_profile_texts
    from llmrec.data import leave_one_out, load_dataset
    from llmrec.embeddings.residual import load_user_model

    data = load_dataset(args.data)
    dataset = leave_one_out(data).train if args.split == "loo" else data
    kwargs = {"batch_size": args.batch_size, "show_progress": True}
    if args.max_history_tokens:
        kwargs["max_history_tokens"] = args.max_history_tokens
    if args.sources:
        kwargs["sources"] = tuple(args.sources)
    profiles = read_profile_texts(args.profiles) if args.profiles else None
    if args.engine == "ray":
        from functools import partial

        from llmrec.engines.jobs import embed_users_job, make_user_encoder

        kwargs["show_progress"] = False
        make = partial(make_user_encoder, args.model, args.device, **kwargs)
        settings = {"model": str(args.model), "data": str(args.data), "split": args.split}
        table = embed_users_job(
            make, dataset, dataset.active_users(), args.out, ray_engine(args), args.instruction,
            profiles, settings,
        )  # fmt: skip
        encoder = None
    else:
        encoder = load_user_model(args.model, device=args.device, **kwargs)
        table = encoder.encode_users(dataset, instruction=args.instruction, profiles=profiles)
    table.metadata["split"] = args.split
    print(f"{len(table)} users x {table.dim} -> {table.save(args.out)}")
    if args.items:
        encoder = encoder or load_user_model(args.model, device=args.device, **kwargs)
        items = encoder.encode_items(dataset.items)
        print(f"{len(items)} items x {items.dim} -> {items.save(Path(args.items))}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from llmrec.embeddings.train import make_parser, run_training

    parser = make_parser()  # the recipe's parser (recipes/embed.py), so both train one way
    argv = ["--config", args.config] + [a for a in args.overrides if a != "--"]
    script_args, training_args, model_args = parser.parse_args_and_config(argv)
    print(f"saved the user encoder to {run_training(script_args, training_args, model_args)}")
    return 0


RANKERS = ("most_popular", "ease")


def retrieval_baselines(names: list[str]) -> dict:
    """``{name: fit_and_score(train, users)}`` for the named recommenders of
    :mod:`llmrec.evaluation.recommenders` (this layer may import them; the embeddings layer may
    not)."""
    from llmrec.evaluation.recommenders import EASE, MostPopular

    classes = {"most_popular": MostPopular, "ease": EASE}
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; allowed: {list(classes)}")

    def runner(cls):
        return lambda train, users: cls().fit(train).score_users(users)

    return {name: runner(classes[name]) for name in names}


def _eval(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from llmrec.embeddings.evaluate import evaluate_embeddings

    result = evaluate_embeddings(
        args.data,
        trained=args.trained,
        base=args.base,
        eval_fraction=args.eval_fraction,
        split_seed=args.split_seed,
        max_users=args.max_users,
        max_history_tokens=args.max_history_tokens,
        k=args.k,
        n_boot=args.n_boot,
        seed=args.seed,
        device=args.device,
        show_progress=True,
        methods=args.methods,
        rankers=retrieval_baselines(args.baselines),
        popmatched_negatives=args.popmatched_negatives,
        cache_dir=args.cache_dir,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=float))
    print(result["table"])
    print(f"majority-class accuracy: {result['majority']}")
    for ref, per_method in result["verdict"].items():
        for name, marks in per_method.items():
            counts = {v: sum(m == v for m in marks.values()) for v in ("better", "tie", "worse")}
            print(f"{name} vs {ref} (paired 95% CI), metrics: {counts}")
    print(f"wrote {out} ({result['seconds']} s)")
    return 0
