"""``llmrec judge``: validate the LLM judge, compare two recommenders, measure injection.

Examples:
    llmrec judge validate --data ml-100k --users 50 --out runs/judge
    llmrec judge validate --data ml-100k --task rated --profiles facts --adapter runs/judge-sft
    llmrec judge validate --data synthetic --users 40 --out runs/judge
    llmrec judge compare --data ml-100k --a runs/bpr.jsonl --b runs/pop.jsonl --k 10
    llmrec judge injection --data ml-100k --users 30 --out runs/judge
    llmrec judge score --data ml-100k --pairs pairs.csv --out scores.jsonl --engine ray
"""

from __future__ import annotations

import argparse

from llmrec.cli._engine import add_engine_args, ray_engine

NAME = "judge"
HELP = "profile-aware LLM judge: validity, calibration, recommender comparison, injection"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        default="ml-100k",
        help="ml-100k, a dataset path, or 'synthetic' (default ml-100k)",
    )
    p.add_argument("--model", default="smollm2-135m-instruct", help="judge backend spec")
    p.add_argument("--batch-size", type=int, default=None, help="prompts per forward pass")
    p.add_argument("--cache", default=None, help="SQLite response cache for the backend")
    p.add_argument(
        "--profiles",
        default=None,
        help="profiles JSONL, or 'facts' for the grounded facts as text (no model call); "
        "default: build grounded profiles with the model",
    )
    p.add_argument("--adapter", default=None, help="LoRA adapter folder to put on --model")
    p.add_argument("--profile-model", default=None, help="profile backend (default: --model)")
    p.add_argument("--users", type=int, default=50, help="users to sample (default 50)")
    p.add_argument("--max-history", type=int, default=20, help="history items shown (20)")
    p.add_argument("--synthetic-users", type=int, default=300, help="synthetic world size")
    p.add_argument("--synthetic-items", type=int, default=400, help="synthetic catalogue size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/judge", help="output folder (default runs/judge)")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="judge_command", metavar="ACTION", required=True)
    val = sub.add_parser("validate", help="AUC / agreement / calibration of the judge")
    _common(val)
    val.add_argument(
        "--candidates",
        type=int,
        default=None,
        help="negatives per user (held-out; default 9) or items per user (synthetic; default 8)",
    )
    val.add_argument(
        "--task",
        default="heldout",
        choices=["heldout", "rated"],
        help="heldout: next item vs negatives; rated: liked (4-5) vs disliked (1-2) held-out "
        "items (ignored for synthetic data)",
    )
    val.add_argument(
        "--negatives",
        default="popularity",
        choices=["popularity", "uniform"],
        help="heldout negatives: same popularity decile as the positive (default) or uniform",
    )
    val.add_argument(
        "--baselines",
        default="popularity,item_mean,minilm,genre_overlap",
        help="non-LLM baselines on the same pairs (comma-separated; '' for none)",
    )
    val.add_argument(
        "--exclude-users",
        default=None,
        metavar="FILE",
        help="users never to sample (JSON list or one id a line), e.g. a trained adapter's "
        "judge_train_users.json; give it to the zero-shot run too so both judge the same users",
    )
    val.add_argument("--views", default="profile,history,both", help="judge views to compare")
    val.add_argument("--mode", default="logprob", choices=["logprob", "rationale"])
    val.add_argument(
        "--calibrator", default="isotonic", help="temperature, platt, isotonic or none"
    )
    val.add_argument("--no-pairwise", action="store_true", help="skip the pairwise judge")
    val.add_argument("--no-gold", action="store_true", help="synthetic: skip the gold-profile row")
    val.add_argument("--n-boot", type=int, default=1000)
    val.set_defaults(func=_validate)

    cmp_ = sub.add_parser("compare", help="two recommenders' lists judged pairwise per user")
    _common(cmp_)
    cmp_.add_argument("--a", required=True, help="rankings of system A (.jsonl/.json/.tsv/.csv)")
    cmp_.add_argument("--b", required=True, help="rankings of system B")
    cmp_.add_argument("--k", type=int, default=10, help="list length shown (default 10)")
    cmp_.add_argument("--sees", default="profile", choices=["profile", "history", "both"])
    cmp_.add_argument("--mode", default="logprob", choices=["logprob", "rationale"])
    cmp_.set_defaults(func=_compare)

    inj = sub.add_parser("injection", help="score shift caused by instructions in item text")
    _common(inj)
    inj.add_argument("--items-per-user", type=int, default=2)
    inj.add_argument("--sees", default="profile", choices=["profile", "history", "both"])
    inj.add_argument("--mode", default="logprob", choices=["logprob", "rationale"])
    inj.add_argument(
        "--attacks",
        default=None,
        help="comma-separated attack names (default all); with --payloads, payload names",
    )
    inj.add_argument(
        "--payloads",
        default=None,
        help="JSONL payload corpus (tests/data/injection/payloads.jsonl): pointwise shift per "
        "payload and per class against clean twins, instead of the built-in attacks",
    )
    inj.set_defaults(func=_injection)

    score = sub.add_parser("score", help="pointwise judge scores of (user, item) pairs, as a job")
    score.add_argument("--data", default="ml-100k", help="dataset name or path")
    score.add_argument("--pairs", required=True, help="CSV/TSV/JSONL/Parquet with user_id, item_id")
    score.add_argument("--out", required=True, help="output JSONL: one judgment per pair")
    score.add_argument("--model", default="smollm2-135m-instruct", help="judge backend spec")
    score.add_argument("--batch-size", type=int, default=None, help="prompts per forward pass")
    score.add_argument("--cache", default=None, help="SQLite response cache for the backend")
    score.add_argument(
        "--profiles", default=None, help="profiles JSONL (needed unless --sees history)"
    )
    score.add_argument("--sees", default="history", choices=["profile", "history", "both"])
    score.add_argument("--mode", default="logprob", choices=["logprob", "rationale"])
    score.add_argument("--max-history", type=int, default=20, help="history items shown (20)")
    add_engine_args(score, shard_size=256)
    score.set_defaults(func=_score)


def _setup(args: argparse.Namespace):
    """Backend, dataset, split and (for synthetic) world from the common arguments."""
    from llmrec.backends import load_backend
    from llmrec.data import leave_one_out, load_dataset

    world = None
    if args.data == "synthetic":
        from llmrec.data.synthetic import SyntheticConfig, generate_world

        world = generate_world(
            SyntheticConfig(
                n_users=args.synthetic_users, n_items=args.synthetic_items, seed=args.seed
            )
        )
        dataset = world.dataset
    else:
        dataset = load_dataset(args.data)
    if getattr(args, "task", "heldout") == "rated" and world is None:
        from llmrec.data.splits import ratio_split

        split = ratio_split(dataset, test=0.2)
    else:
        split = leave_one_out(dataset)
    kwargs = {"batch_size": args.batch_size} if args.batch_size else {}
    if args.adapter:
        from llmrec.backends.adapter import adapter_backend

        backend = adapter_backend(
            args.model, args.adapter, cache=args.cache, device="cpu", **kwargs
        )
    else:
        backend = load_backend(args.model, cache=args.cache, **kwargs)
    return backend, dataset, split, world


def _profiles(args: argparse.Namespace, backend, split, users: list[str]) -> dict[str, str]:
    """Profiles of ``users`` from ``--profiles`` or built from ``split.train`` (cached in --out).

    Any profile file the toolkit writes is read (``llmrec profile`` output included). Users
    whose profile failed are judged with an empty profile, as a warning says.
    """
    from pathlib import Path

    from llmrec.context.profile_files import read_profile_file

    if args.profiles == "facts":
        return facts_profiles(split.train, users)
    if args.profiles:
        path = Path(args.profiles)
    else:
        from llmrec.profiles import ProfileBuilder, run_profile_job

        path = Path(args.out) / f"profiles_{Path(str(args.data)).name}_seed{args.seed}.jsonl"
        profile_backend = backend
        if args.profile_model and args.profile_model != args.model:
            from llmrec.backends import load_backend

            profile_backend = load_backend(args.profile_model, cache=args.cache)
        builder = ProfileBuilder(profile_backend, strategy="grounded")
        run_profile_job(builder, split.train, list(users), path, progress=True, shard=(0, 1))
    read = read_profile_file(path)
    profiles = {**dict.fromkeys(read.failed, ""), **read.texts}
    missing = [u for u in users if u not in profiles]
    if missing:
        raise ValueError(f"{path}: no profile for users {missing[:5]} (of {len(missing)})")
    return profiles


def facts_profiles(train, users: list[str]) -> dict[str, str]:
    """The grounded facts of each user as profile text (deterministic, no model call)."""
    from llmrec.context.facts import FactsConfig, base_shares, user_facts
    from llmrec.prompts import render

    base = base_shares(train)
    return {
        u: render("profile/facts_text", f=user_facts(train, u, FactsConfig(), base)).strip()
        for u in users
    }


def _write(result: dict, out: str, stem: str, panels: dict | None = None) -> None:
    import json
    from pathlib import Path

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    if panels:
        from llmrec.judge.plots import reliability_diagram

        png = folder / f"{stem}_reliability.png"
        reliability_diagram(panels, png, title=f"Judge calibration: {stem}")
        result["reliability_png"] = str(png)
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(result, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def _validate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llmrec.data.sampling import sample_users
    from llmrec.judge.report import format_validation
    from llmrec.judge.validate import (
        ValidationConfig,
        rated_users,
        split_curves,
        validate_heldout,
        validate_rated,
        validate_synthetic,
    )

    views = tuple(v.strip() for v in args.views.split(",") if v.strip())
    synthetic = args.data == "synthetic"
    rated = args.task == "rated" and not synthetic
    cfg = ValidationConfig(
        users=args.users,
        candidates=args.candidates or (8 if synthetic else 4 if rated else 9),
        negatives=args.negatives,
        baselines=tuple(b.strip() for b in args.baselines.split(",") if b.strip()),
        views=views,
        mode=args.mode,
        pairwise=not args.no_pairwise,
        calibrator=None if args.calibrator == "none" else args.calibrator,
        max_history=args.max_history,
        n_boot=args.n_boot,
        seed=args.seed,
    )
    from llmrec.training.judge_data import check_disjoint, read_user_list

    excluded = set(read_user_list(args.exclude_users)) if args.exclude_users else set()
    backend, dataset, split, world = _setup(args)
    if synthetic:
        pool = dataset.active_users()
    elif rated:
        pool = rated_users(split)
    else:
        pool = list(dict.fromkeys(split.test.interactions["user_id"].tolist()))
    users = sample_users([u for u in pool if u not in excluded], cfg.users, cfg.seed)
    if args.adapter:
        check_disjoint(args.adapter, users)
    needs_profiles = any(v in ("profile", "both") for v in views)
    profiles = _profiles(args, backend, split, users) if needs_profiles else {}
    if synthetic:
        result = validate_synthetic(
            backend,
            world,
            split,
            profiles,
            cfg,
            users,
            include_gold=not args.no_gold,
            progress=True,
        )
    elif rated:
        result = validate_rated(backend, split, profiles, cfg, users, progress=True)
    else:
        result = validate_heldout(backend, split, profiles, cfg, users, progress=True)
    result["model"] = args.model
    result["adapter"] = args.adapter
    result["user_ids"] = list(users)
    result["excluded_users"] = len(excluded)
    result["profile_source"] = args.profiles or "grounded"
    result["profiles"] = {"users": len(profiles), "empty": sum(not p for p in profiles.values())}
    clean, panels = split_curves(result)
    print(format_validation(clean))
    stem = f"validate_{Path(str(args.data)).name}_{result['study']}_{args.mode}"
    if result["study"] == "heldout":
        stem += f"_{cfg.negatives}"
    if args.adapter:
        stem += f"_{Path(args.adapter).name}"
    _write(clean, args.out, stem, panels)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from llmrec.context.view import UserContext
    from llmrec.data.sampling import sample_users
    from llmrec.judge.compare import compare_rankings, load_rankings
    from llmrec.judge.pairwise import PairwiseJudge

    lists_a, lists_b = load_rankings(args.a), load_rankings(args.b)
    shared = [u for u in lists_a if u in lists_b]
    backend, dataset, split, _ = _setup(args)
    users = sample_users(shared, args.users, args.seed)
    profiles = _profiles(args, backend, split, users) if args.sees != "history" else {}
    ctx = UserContext(profiles=profiles, history=split.train, max_history=args.max_history)
    judge = PairwiseJudge(backend, ctx, sees=args.sees, mode=args.mode)
    result = compare_rankings(judge, lists_a, lists_b, dataset.items, args.k, users, seed=args.seed)
    result.update(a=str(args.a), b=str(args.b), model=args.model)
    w = result["win_rate_a"]
    print(
        f"A={args.a} vs B={args.b}, {result['users']} users, top-{args.k}: "
        f"win rate of A {w['value']:.3f} [{w['low']:.3f}, {w['high']:.3f}]; "
        f"wins {result['wins_a']}/{result['wins_b']}, ties {result['ties']}, "
        f"position bias {result['position_bias_rate']:.3f}"
    )
    _write(result, args.out, "compare")
    return 0


def _injection(args: argparse.Namespace) -> int:
    from llmrec.context.view import UserContext
    from llmrec.data.sampling import sample_users
    from llmrec.judge.injection import (
        attacks_by_name,
        measure_pairwise_injection,
        measure_pointwise_injection,
    )
    from llmrec.judge.pairwise import PairwiseJudge
    from llmrec.judge.pointwise import PointwiseJudge
    from llmrec.judge.report import format_injection
    from llmrec.judge.validate import heldout_candidates

    backend, dataset, split, _ = _setup(args)
    eligible = list(dict.fromkeys(split.test.interactions["user_id"].tolist()))
    users = sample_users(eligible, args.users, args.seed)
    profiles = _profiles(args, backend, split, users) if args.sees != "history" else {}
    ctx = UserContext(profiles=profiles, history=split.train, max_history=args.max_history)
    cands = heldout_candidates(split, users, max(2, args.items_per_user), args.seed)
    items = split.train.items
    pairs = [(u, items[i]) for u, pos, negs in cands for i in [pos, *negs][: args.items_per_user]]
    if args.payloads:
        from llmrec.judge.injection import (
            format_payload_classes,
            load_payloads,
            measure_payload_classes,
        )

        judge = PointwiseJudge(backend, ctx, sees=args.sees, mode=args.mode, progress=True)
        payloads = load_payloads(args.payloads)
        if args.attacks:  # a subset of the corpus, by payload name
            wanted = set(args.attacks.split(","))
            unknown = wanted - {a.name for a in payloads}
            if unknown:
                raise ValueError(f"--attacks: {sorted(unknown)} are not in {args.payloads}")
            payloads = [a for a in payloads if a.name in wanted]
        result = measure_payload_classes(judge, pairs, payloads, args.seed)
        result.update(model=args.model, data=args.data, judge=judge.describe())
        result["payload_file"] = str(args.payloads)
        print(format_payload_classes(result))
        _write(result, args.out, f"injection_payloads_{args.data}_{args.mode}_{args.sees}")
        return 0
    names = args.attacks.split(",") if args.attacks else None
    attacks = attacks_by_name(names)
    triples = [(u, items[negs[0]], items[negs[1]]) for u, _, negs in cands]
    pointwise = PointwiseJudge(backend, ctx, sees=args.sees, mode=args.mode, progress=True)
    pairwise = PairwiseJudge(backend, ctx, sees=args.sees, mode=args.mode)
    result = {
        "model": args.model,
        "data": args.data,
        "users": len(users),
        "judge": pointwise.describe(),
        "pointwise": measure_pointwise_injection(pointwise, pairs, attacks, args.seed),
        "pairwise": measure_pairwise_injection(pairwise, triples, attacks, args.seed),
    }
    print(format_injection(result))
    _write(result, args.out, f"injection_{args.data}_{args.mode}")
    return 0


def read_pairs(path: str) -> list[tuple[str, str]]:
    """``(user_id, item_id)`` rows of a CSV, TSV, JSONL or Parquet file with those columns."""
    import pandas as pd

    suffix = path.rsplit(".", 1)[-1].lower()
    readers = {
        "csv": lambda: pd.read_csv(path, dtype=str),
        "tsv": lambda: pd.read_csv(path, sep="\t", dtype=str),
        "jsonl": lambda: pd.read_json(path, lines=True, dtype=str),
        "parquet": lambda: pd.read_parquet(path),
    }
    if suffix not in readers:
        raise ValueError(f"{path}: pairs must be .csv, .tsv, .jsonl or .parquet, got .{suffix}")
    frame = readers[suffix]()
    missing = [c for c in ("user_id", "item_id") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; found {list(frame.columns)}")
    bad = frame[["user_id", "item_id"]].isna().any(axis=1)
    if bad.any():
        line = int(bad.to_numpy().nonzero()[0][0]) + (2 if suffix in ("csv", "tsv") else 1)
        raise ValueError(f"{path}:{line}: empty user_id or item_id")
    return list(zip(frame["user_id"].astype(str), frame["item_id"].astype(str)))


def _score(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict
    from functools import partial

    from llmrec.context import UserContext, read_profile_texts
    from llmrec.data import leave_one_out, load_dataset
    from llmrec.engines.jobs import make_pointwise_judge

    train = leave_one_out(load_dataset(args.data)).train
    pairs = read_pairs(args.pairs)
    unknown = sorted({i for _, i in pairs if i not in train.items})[:5]
    if unknown:
        raise ValueError(f"{args.pairs}: item ids not in {args.data}: {unknown}")
    profiles = read_profile_texts(args.profiles) if args.profiles else {}
    context = UserContext(profiles=profiles, history=train, max_history=args.max_history)
    backend_kwargs = {"batch_size": args.batch_size} if args.batch_size else {}
    make = partial(
        make_pointwise_judge, args.model, context, backend_kwargs, args.cache, sees=args.sees,
        mode=args.mode,
    )  # fmt: skip
    if args.engine == "ray":
        from llmrec.engines.jobs import judge_job

        settings = {"model": args.model, "sees": args.sees, "mode": args.mode}
        judged = judge_job(make, pairs, train.items, args.out, ray_engine(args), settings)
    else:
        judge = make()
        judged = judge.judge([(u, train.items[i]) for u, i in pairs])
    with open(args.out, "w", encoding="utf-8") as handle:
        for judgment in judged:
            handle.write(json.dumps(asdict(judgment)) + "\n")
    print(json.dumps({"pairs": len(judged), "out": args.out, "engine": args.engine}))
    return 0
