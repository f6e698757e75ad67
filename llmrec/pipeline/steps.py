"""The steps of the end-to-end pipeline, each a thin wiring of llmrec's public APIs.

Every step reads only the training part of the split (profiles, judge context, reranker prompts,
embedding training), returns a JSON-serialisable dict, and writes its artefacts under the
output folder. The runner caches each result, so a finished step is never run twice.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.data.sampling import sample_users as draw_users
from llmrec.pipeline.runner import Context, Step

logger = logging.getLogger(__name__)

# The training steps run the recipes as modules of the installed package (``python -m
# llmrec.recipes.<method>``, as trl runs ``trl.scripts``), never by a path into a source tree.
RECIPES = "llmrec.recipes"


def recipe_config(name: str | Path) -> Path:
    """A recipe YAML: ``name`` as a path if it is a file, else the packaged one.

    ``"recipes/smollm2/sft/config_demo.yaml"`` names the same file from a checkout and from a
    wheel install (where the configs ship as package data of ``llmrec.recipes``).

    Raises:
        FileNotFoundError: neither exists; the message names both places looked in.
    """
    path = Path(name)
    if path.is_file():
        return path
    packaged = Path(str(resources.files(RECIPES)))
    relative = path.relative_to("recipes") if path.parts[:1] == ("recipes",) else path
    if (packaged / relative).is_file():
        return packaged / relative
    raise FileNotFoundError(
        f"no recipe config at {str(name)!r} (looked in the working directory and in the packaged "
        f"recipes, {packaged}); e.g. recipes/smollm2/sft/config_demo.yaml"
    )


def sample_users(ctx: Context, n: int) -> list[str]:
    """``n`` users with a test item, drawn with the run's seed (the same for every step)."""
    eligible = sorted(
        set(ctx.split.test.interactions["user_id"]), key=ctx.split.train.user_index.get
    )
    return draw_users(eligible, n, ctx.config.seed)


def _profile_path(ctx: Context, fmt: str) -> Path:
    # Named by the step's key: other settings write another file instead of clashing with a
    # finished one, and the same settings resume the same file after a kill.
    return ctx.path("profiles", f"{fmt}-{ctx.keys['profiles']}.jsonl")


def profile_texts(ctx: Context, fmt: str = "free") -> dict[str, str]:
    """Profiles of the ``profiles`` step, ``user_id -> text`` (failed ones left out)."""
    from llmrec.context.profile_files import read_profile_texts

    entry = ctx.results["profiles"]["formats"].get(fmt)
    if entry is None or not Path(entry["path"]).is_file():
        return {}
    return read_profile_texts(entry["path"])


# -- data -------------------------------------------------------------------------------------
def data_step(ctx: Context) -> dict[str, Any]:
    dataset, split = ctx.dataset, ctx.split
    popularity = dataset.item_popularity()
    top = np.argsort(-popularity, kind="stable")[:5]
    return {
        "stats": dataset.stats().to_dict(),
        "split": split.describe(),
        "most_popular": [
            {"title": dataset.items[dataset.item_ids[j]].title, "interactions": int(popularity[j])}
            for j in top
        ],
    }


# -- profiles ---------------------------------------------------------------------------------
def profiles_step(ctx: Context) -> dict[str, Any]:
    from llmrec.backends import GenerationParams
    from llmrec.profiles import ProfileBuilder
    from llmrec.profiles.builder import DEFAULT_REPETITION_PENALTY
    from llmrec.profiles.job import run_profile_job
    from llmrec.profiles.store import read_profiles
    from llmrec.profiles.strategies import make_strategy

    cfg = ctx.config.profiles
    users = sample_users(ctx, cfg.users)
    train = ctx.split.train
    out: dict[str, Any] = {"users": users, "formats": {}, "samples": []}
    usage = ctx.backend.usage
    for fmt in cfg.formats:
        settings = {"last_n": cfg.window} if cfg.strategy == "recent" else {}
        builder = ProfileBuilder(
            ctx.backend,
            strategy=make_strategy(cfg.strategy, **settings),
            format=fmt,
            params=GenerationParams(
                max_new_tokens=cfg.max_new_tokens + 64 * (fmt != "free"),
                repetition_penalty=DEFAULT_REPETITION_PENALTY,
            ),
        )
        tokens_before = usage.completion_tokens
        result = run_profile_job(
            builder,
            train,
            users,
            _profile_path(ctx, fmt),
            batch_size=ctx.config.models.batch_size,
            progress=ctx.progress,
        )
        records = read_profiles(_profile_path(ctx, fmt))
        out["formats"][fmt] = {
            "path": str(_profile_path(ctx, fmt)),
            "ok": sum(r.ok for r in records.values()),
            "failed": sum(not r.ok for r in records.values()),
            "generated_now": result.written,
            "resumed": result.skipped,
            "completion_tokens": usage.completion_tokens - tokens_before,
            "prompt": builder.prompt_version,
            "strategy": records[users[0]].strategy if users and users[0] in records else "",
        }
    free = read_profiles(_profile_path(ctx, "free")) if "free" in cfg.formats else {}
    structured = (
        read_profiles(_profile_path(ctx, "structured")) if "structured" in cfg.formats else {}
    )
    for uid in users[: cfg.show]:
        history = train.history(uid)[-cfg.window :]
        out["samples"].append(
            {
                "user_id": uid,
                "attributes": dict(train.users[uid].attributes),
                "history": [
                    {
                        "title": train.items[r.item_id].title,
                        "year": train.items[r.item_id].year,
                        "genres": list(train.items[r.item_id].genres),
                        "rating": r.rating,
                    }
                    for r in reversed(history)
                ],
                "free": free[uid].text if uid in free else None,
                "free_status": free[uid].status if uid in free else None,
                "structured": structured[uid].structured if uid in structured else None,
                "structured_status": structured[uid].status if uid in structured else None,
                "structured_raw": structured[uid].raw if uid in structured else None,
            }
        )
    return out


# -- evaluation -------------------------------------------------------------------------------
_TYPE_ALIASES = {"bpr": "bpr_mf"}


def _suite(ctx: Context, recommenders: list[dict], **protocol: Any) -> dict[str, Any]:
    cfg = ctx.config.evaluation
    return {
        "name": f"{ctx.config.data.name}-pipeline",
        "data": {"name": ctx.config.data.name},
        "split": {"strategy": ctx.config.data.split},
        "protocol": {"kind": "full", "tie": "pessimistic", "seed": ctx.config.seed, **protocol},
        "metrics": list(cfg.metrics),
        "curves": {"metrics": ["hr", "ndcg"], "ks": list(cfg.ks)},
        "statistics": {
            "n_resamples": cfg.bootstrap,
            "seed": ctx.config.seed,
            "baseline": recommenders[0].get("name", recommenders[0]["type"]),
        },
        "embeddings_model": ctx.config.models.encoder,
        "recommenders": recommenders,
    }


def _recommender_entry(name: str, ctx: Context) -> dict[str, Any]:
    kind = _TYPE_ALIASES.get(name, name)
    params: dict[str, Any] = {}
    if kind in ("random", "bpr_mf", "sasrec"):
        params["seed"] = ctx.config.seed
    if kind == "sasrec":
        params["epochs"] = ctx.config.evaluation.sasrec_epochs
    if kind == "text_embedding":
        params["model"] = ctx.config.models.encoder
    return {"type": kind, "name": name, "params": params}


def evaluation_step(ctx: Context) -> dict[str, Any]:
    from llmrec.evaluation.suite import run_suite

    cfg = ctx.config.evaluation
    suite = _suite(ctx, [_recommender_entry(n, ctx) for n in cfg.recommenders])
    out = run_suite(suite, out_dir=ctx.folder("evaluation"), progress=ctx.progress)
    return out.results


def rerank_step(ctx: Context) -> dict[str, Any]:
    """The profile-conditioned LLM reranker against its base, on the profiled users."""
    from llmrec.evaluation.recommenders import build_recommender
    from llmrec.evaluation.recommenders.llm_reranker import LLMReranker
    from llmrec.evaluation.suite import run_suite

    cfg = ctx.config.evaluation
    users = ctx.results["profiles"]["users"][: cfg.rerank_users]
    base = _recommender_entry(cfg.rerank_base, ctx)

    def reranker(profiles):
        return LLMReranker(
            ctx.backend,
            base=build_recommender(base["type"], base["params"]),
            n_candidates=cfg.rerank_candidates,
            profiles=profiles,
        )

    extra = {
        "llm_rerank_profile": reranker(profile_texts(ctx, "free")),
        "llm_rerank_history": reranker(None),
    }
    suite = _suite(ctx, [base], users=users)
    suite["curves"] = None
    suite["metrics"] = [m for m in cfg.metrics if not m.startswith("coverage")]
    out = run_suite(
        suite,
        out_dir=ctx.folder("rerank"),
        progress=ctx.progress,
        recommenders=extra,
    )
    return out.results


# -- judge ------------------------------------------------------------------------------------
def judge_step(ctx: Context) -> dict[str, Any]:
    from llmrec.context.view import UserContext
    from llmrec.evaluation.protocols import topk_items
    from llmrec.evaluation.recommenders import build_recommender
    from llmrec.judge.compare import compare_rankings
    from llmrec.judge.pairwise import PairwiseJudge
    from llmrec.judge.plots import reliability_diagram
    from llmrec.judge.validate import ValidationConfig, split_curves, validate_heldout

    cfg = ctx.config.judge
    users = ctx.results["profiles"]["users"][: cfg.users]
    profiles = profile_texts(ctx, "free")
    views = ("profile", "history") if cfg.context == "profile" else (cfg.context,)
    if not profiles:
        # Every profile failed (or none were asked for): the judge can only see raw history.
        logger.warning("no usable profiles; the judge sees raw history only")
        views = ("history",)
    study = ValidationConfig(
        users=max(2, len(users)),
        candidates=cfg.negatives,
        views=views,
        calibrator="isotonic",
        seed=ctx.config.seed,
    )
    validation = validate_heldout(
        ctx.backend, ctx.split, profiles, study, user_ids=users, progress=ctx.progress
    )
    if cfg.adapter:
        validation["views"].update(_trained_judge_views(ctx, users, profiles, study))
        validation["config"]["adapter"] = cfg.adapter
    clean, panels = split_curves(validation)
    png = ctx.path("judge", "reliability.png")
    reliability_diagram(panels, png, title="Judge calibration (held-out next items)")
    clean["reliability_png"] = str(png)

    # Two recommenders' top-k lists for the same users, judged pairwise in both orders.
    train = ctx.split.train
    compare_users = users[: cfg.compare_users]
    idx = np.array([train.user_index[u] for u in compare_users])
    seen = train.interaction_matrix()[idx].toarray() > 0  # (users, items)
    lists = {}
    for name in cfg.compare:
        entry = _recommender_entry(name, ctx)
        rec = build_recommender(entry["type"], entry["params"]).fit(train)
        top = topk_items(rec.score(idx), cfg.compare_k, seen)  # (users, k)
        lists[name] = {u: [train.item_ids[j] for j in row] for u, row in zip(compare_users, top)}
    context = UserContext(profiles=profiles, history=train)
    judge = PairwiseJudge(ctx.backend, context, sees="profile" if profiles else "history")
    a, b = cfg.compare
    comparison = compare_rankings(
        judge, lists[a], lists[b], train.items, cfg.compare_k, compare_users, seed=ctx.config.seed
    )
    comparison.update(a=a, b=b)
    return {"validation": clean, "comparison": comparison}


def _trained_judge_views(
    ctx: Context, users: list[str], profiles: dict[str, str], study: Any
) -> dict:
    """The ``judge.adapter`` judge on the zero-shot ``study``'s users and pairs, in the views and
    history length it was trained with; views named ``"<view>, trained"``."""
    import dataclasses

    from llmrec.backends.adapter import adapter_backend
    from llmrec.judge.validate import validate_heldout
    from llmrec.training.judge_data import check_disjoint

    cfg = ctx.config.judge
    check_disjoint(cfg.adapter, users)
    tuned = adapter_backend(
        ctx.config.models.llm, cfg.adapter, batch_size=ctx.config.models.batch_size
    )
    trained = dataclasses.replace(
        study,
        views=tuple(cfg.adapter_views),
        pairwise=False,
        max_history=cfg.adapter_max_history,
    )
    result = validate_heldout(
        tuned, ctx.split, profiles, trained, user_ids=users, progress=ctx.progress
    )
    return {f"{view}, trained": block for view, block in result["views"].items()}


# -- embeddings -------------------------------------------------------------------------------
def embeddings_step(ctx: Context) -> dict[str, Any]:
    from llmrec.embeddings.evaluate import evaluate_embeddings

    cfg = ctx.config.embeddings
    folder = ctx.path("embeddings", "encoder")
    cmd = [
        sys.executable,
        "-m",
        f"{RECIPES}.embed",
        "--config",
        str(recipe_config("recipes/minilm/embed/config_residual.yaml")),
        "--dataset",
        ctx.config.data.name,
        "--model_name_or_path",
        ctx.config.models.encoder,
        "--max_users",
        str(cfg.train_users),
        "--num_train_epochs",
        str(cfg.epochs),
        "--per_device_train_batch_size",
        str(cfg.batch_size),
        "--seed",
        str(ctx.config.seed),
        "--output_dir",
        str(folder),
    ]
    subprocess.run(cmd, check=True)
    result = evaluate_embeddings(
        dataset=ctx.config.data.name,
        trained=str(folder),
        base=ctx.config.models.encoder,
        max_users=cfg.eval_users,
        seed=ctx.config.seed,
        show_progress=ctx.progress,
    )
    result["encoder"] = str(folder)
    return result


# -- optional SFT -----------------------------------------------------------------------------
def sft_step(ctx: Context) -> dict[str, Any]:
    """One LoRA SFT run of the SFT recipe on the pipeline's dataset, in a subprocess.

    The recipe's own YAML (``sft.config``: a path, or a packaged config such as
    ``recipes/smollm2/sft/config_demo.yaml``) sets the model and the schedule; the dataset is the
    pipeline's, so a swapped-in dataset is what gets fine-tuned on. Returns the recipe's
    ``eval_metrics.json``.
    """
    import json

    try:
        config = recipe_config(ctx.config.sft.config)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"sft.config: {err}") from None
    folder = ctx.folder("sft", "model")
    cmd = [
        sys.executable,
        "-m",
        f"{RECIPES}.sft",
        "--config",
        str(config),
        "--output_dir",
        str(folder),
        "--dataset",
        ctx.config.data.name,
        "--seed",
        str(ctx.config.seed),
    ]
    subprocess.run(cmd, check=True)
    metrics = folder / "eval_metrics.json"
    if not metrics.is_file():
        raise RuntimeError(f"the SFT recipe finished without writing {metrics}")
    result = json.loads(metrics.read_text())
    result["config"] = str(config)
    return result


STEPS: list[Step] = [
    Step("data", "Data and split", data_step, ()),
    Step("profiles", "User profiles with the LLM", profiles_step, ("profiles",), ("data",)),
    Step("evaluation", "Baselines under full ranking", evaluation_step, ("evaluation",)),
    Step(
        "rerank",
        "Profile-conditioned LLM reranker",
        rerank_step,
        ("evaluation",),
        ("profiles",),
    ),
    Step("judge", "LLM judge: validity and comparison", judge_step, ("judge",), ("profiles",)),
    Step(
        "embeddings",
        "Instruction-aware user embeddings",
        embeddings_step,
        ("embeddings",),
        enabled=lambda cfg: cfg.embeddings.enabled,
    ),
    Step("sft", "LoRA SFT", sft_step, ("sft",), enabled=lambda cfg: cfg.sft.enabled),
]
