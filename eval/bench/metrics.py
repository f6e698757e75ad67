"""Metric speed and exactness: llmrec vs ranx on the same top-100 lists, and full ranking end to end.

    python eval/bench/metrics.py                      # 100k users, top-100, 20k-item catalogue
    python eval/bench/metrics.py --users 5000 --items 2000   # a quick look

Part 1: the same ranked lists (100 items per user) and held-out items (1-3 per user) go to ranx
(``ranx.evaluate`` on its prebuilt numeric typed lists, after a warm-up so numba compilation is excluded) and to
llmrec (``ranks_from_topk`` + the metric functions, from the arrays); both compute
HR/NDCG/MRR/Recall@{10,20}. Seconds for each, the ratio, and the largest absolute difference.

Part 2: llmrec end to end from full-ranking scores: a low-rank model scores the whole catalogue
chunk by chunk (training items masked, pessimistic ties), ranks of held-out items and top-100
lists are kept, metrics computed; peak traced memory (tracemalloc) shows that the full
users x items score matrix never exists.

The last line is JSON with ``speedup_vs_ranx``, ``max_abs_diff`` and ``peak_mb``.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc

import numpy as np

METRICS = ["hr@10", "ndcg@10", "mrr@10", "recall@10", "hr@20", "ndcg@20", "mrr@20", "recall@20"]
RANX_NAMES = {"hr": "hit_rate", "ndcg": "ndcg", "mrr": "mrr", "recall": "recall"}


def make_lists(n_users: int, n_items: int, k: int, seed: int):
    """Top-k lists and 1-3 held-out items per user, about half of them inside the lists."""
    rng = np.random.default_rng(seed)
    topk = np.empty((n_users, k), dtype=np.int64)
    for start in range(0, n_users, 10000):
        n = min(10000, n_users - start)
        keys = rng.random((n, n_items), dtype=np.float32)
        topk[start : start + n] = np.argpartition(keys, k, axis=1)[:, :k]
    n_rel = rng.integers(1, 4, n_users)
    relevant = np.full((n_users, 3), -1, dtype=np.int64)
    for j in range(3):
        inside = rng.random(n_users) < 0.5
        from_list = topk[np.arange(n_users), rng.integers(0, k, n_users)]
        outside = rng.integers(0, n_items, n_users)
        relevant[:, j] = np.where(j < n_rel, np.where(inside, from_list, outside), -1)
    for row in relevant:  # distinct relevant items per user
        seen = set()
        for j, item in enumerate(row):
            if item in seen:
                row[j] = -1
            seen.add(item)
    return topk, relevant


def to_ranx(topk: np.ndarray, relevant: np.ndarray):
    """ranx's native numeric input: numba typed lists of ``[doc_id, score]`` arrays per query.

    ``ranx.evaluate`` converts Qrels/Run dicts to exactly this before its kernels run; building
    them from Python dicts takes minutes at 100k users, so the bench builds them directly.
    """
    from numba.typed import List as TypedList

    k = topk.shape[1]
    run_scores = np.arange(k, 0, -1, dtype=np.float64)  # descending: list order is rank order
    run = TypedList([np.stack([row.astype(np.float64), run_scores], axis=1) for row in topk])
    qrels = TypedList(
        [
            np.stack([rel[rel >= 0].astype(np.float64), np.ones((rel >= 0).sum())], axis=1)
            for rel in relevant
        ]
    )
    return qrels, run


def run_llmrec(topk: np.ndarray, relevant: np.ndarray) -> dict[str, np.ndarray]:
    from llmrec.metrics import evaluate, ranks_from_topk

    ranks = ranks_from_topk(topk, relevant)
    return evaluate(METRICS, ranks=ranks)


def run_ranx(qrels, run) -> dict[str, np.ndarray]:
    from ranx import evaluate as ranx_evaluate

    names = [RANX_NAMES[m.split("@")[0]] + "@" + m.split("@")[1] for m in METRICS]
    out = ranx_evaluate(qrels, run, names, return_mean=False, make_comparable=False)
    return {m: np.asarray(out[n]) for m, n in zip(METRICS, names)}


def end_to_end(n_users: int, n_items: int, k: int, chunk: int, seed: int) -> tuple[float, float]:
    """Seconds and traced peak MB of full ranking + metrics, scores produced chunk by chunk."""
    from scipy.sparse import csr_matrix

    from llmrec.evaluation.protocols import FullRanking, full_ranking
    from llmrec.metrics import evaluate

    rng = np.random.default_rng(seed)
    dim = 32
    user_f = rng.standard_normal((n_users, dim), dtype=np.float32)
    item_f = rng.standard_normal((dim, n_items), dtype=np.float32)
    per_user = 20
    train = csr_matrix(
        (
            np.ones(n_users * per_user, np.float32),
            (np.repeat(np.arange(n_users), per_user), rng.integers(0, n_items, n_users * per_user)),
        ),
        shape=(n_users, n_items),
    )
    targets = rng.integers(0, n_items, (n_users, 1))

    def score_fn(users: np.ndarray) -> np.ndarray:
        return user_f[users] @ item_f  # (chunk, n_items), never more than one chunk

    tracemalloc.start()
    start = time.perf_counter()
    out = full_ranking(
        score_fn, np.arange(n_users), targets, n_items, FullRanking(chunk_size=chunk), train, k
    )
    values = evaluate(METRICS + ["auc"], ranks=out.ranks, n_candidates=out.n_candidates)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if not all(np.isfinite(v).all() for v in values.values()):
        raise RuntimeError("end-to-end metrics contain non-finite values")
    return seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    topk, relevant = make_lists(args.users, args.items, args.k, args.seed)
    t0 = time.perf_counter()
    qrels, run = to_ranx(topk, relevant)
    build_s = time.perf_counter() - t0
    warm_q, warm_r = to_ranx(topk[:50], relevant[:50])
    run_ranx(warm_q, warm_r)  # numba compilation outside the timing
    run_llmrec(topk[:50], relevant[:50])

    t0 = time.perf_counter()
    theirs = run_ranx(qrels, run)
    ranx_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = run_llmrec(topk, relevant)
    ours_s = time.perf_counter() - t0
    diffs = {m: float(np.abs(ours[m] - theirs[m]).max()) for m in METRICS}
    max_diff = max(diffs.values())

    print(f"{args.users} users, top-{args.k} lists, {args.items} items; ranx typed-list build "
          f"{build_s:.1f}s (not timed below)")  # fmt: skip
    print(f"{'metric':<10} {'llmrec mean':>12} {'ranx mean':>12} {'max |diff|':>11}")
    for m in METRICS:
        print(f"{m:<10} {ours[m].mean():>12.6f} {theirs[m].mean():>12.6f} {diffs[m]:>11.2e}")
    speedup = ranx_s / ours_s
    print(f"\nHR/NDCG/MRR/Recall@{{10,20}}: llmrec {ours_s:.3f}s, ranx {ranx_s:.3f}s, "
          f"llmrec is {speedup:.1f}x faster")  # fmt: skip

    e2e_s, peak_mb = end_to_end(args.users, args.items, args.k, args.chunk, args.seed)
    full_mb = args.users * args.items * 4 / 2**20
    print(f"end to end (full ranking of {args.items} items for {args.users} users, chunks of "
          f"{args.chunk}): {e2e_s:.1f}s, peak traced memory {peak_mb:.0f} MB "
          f"(the full float32 score matrix would be {full_mb:.0f} MB)")  # fmt: skip
    print(json.dumps({
        "users": args.users, "items": args.items, "k": args.k, "llmrec_s": round(ours_s, 4),
        "ranx_s": round(ranx_s, 4), "speedup_vs_ranx": round(speedup, 2),
        "max_abs_diff": max_diff, "end_to_end_s": round(e2e_s, 2), "peak_mb": round(peak_mb, 1),
        "full_matrix_mb": round(full_mb, 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
