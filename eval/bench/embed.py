"""Throughput of user encoding: llmrec's UserEncoder vs a plain SentenceTransformer.encode.

Builds N users (default 10,000) by sampling ml-100k training histories at random cut points
(distinct texts only, so de-duplication cannot flatter llmrec), serialises them once, then times

1. plain ``SentenceTransformer.encode`` on the texts (batch 32, normalised);
2. ``UserEncoder.encode_sources`` on the same texts (same model, batch size and normalisation);
   the two run on interleaved chunks of 512 users, alternating which goes first;
3. the residual user model (:class:`~llmrec.embeddings.residual.ResidualUserModel`: history
   mean + a linear map of the text embedding; here a seeded random map, so its output is
   checked against ``norm(mean + W plain)`` computed from the plain side's vectors), timed on
   the same interleaved chunks, its history means included (item embeddings cached);
4. users as the mean of their history items' embeddings, with the item embeddings cached on disk
   (the second call loads them instead of encoding the catalogue), a re-run that needs no
   user-text encoding at all.

Run:

    OMP_NUM_THREADS=1 python eval/bench/embed.py --users 10000

The last line is JSON with ``ratio`` (llmrec users/s divided by plain users/s; 1.0 = parity)
and ``residual_ratio`` (the residual model's users/s divided by plain users/s).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--model", default="all-minilm-l6-v2")
    parser.add_argument("--max-history-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=512, help="users per timed chunk")
    args = parser.parse_args()

    import numpy as np
    import torch

    from llmrec.data import leave_one_out, load_dataset
    from llmrec.data.records import InteractionDataset
    from llmrec.embeddings.encoder import UserEncoder, history_mean
    from llmrec.embeddings.residual import ResidualHead, ResidualUserModel
    from llmrec.embeddings.sources import join_sources

    split = leave_one_out(load_dataset("ml-100k"))
    train = split.train
    rng = np.random.default_rng(args.seed)
    frame = train.interactions
    groups = frame.groupby("user_id", sort=False).indices
    base_users = list(groups)
    rows, seen = [], set()
    while len(seen) < args.users:
        u = base_users[int(rng.integers(len(base_users)))]
        idx = groups[u]
        cut = int(rng.integers(1, len(idx) + 1))
        if (u, cut) in seen:
            continue
        seen.add((u, cut))
        part = frame.iloc[idx[:cut]].copy()
        part["user_id"] = f"b{len(seen)}"
        rows.append(part)
    import pandas as pd

    big = InteractionDataset(train.items, pd.concat(rows), name="bench")
    user_ids = big.active_users()

    encoder = UserEncoder(
        args.model,
        sources=("history",),
        max_history_tokens=args.max_history_tokens,
        batch_size=args.batch_size,
        device="cpu",
    )
    t0 = time.perf_counter()
    texts = encoder.user_texts(big, user_ids)
    joined = join_sources(texts)
    t_text = time.perf_counter() - t0
    distinct = len(set(joined))
    encoder.encode_texts(joined[:64])  # warm-up of both paths' shared model
    head = ResidualHead(encoder.dim)
    torch.manual_seed(args.seed)
    with torch.no_grad():
        head.proj.weight.normal_(0.0, 0.05)
    residual = ResidualUserModel(encoder, encoder, head)  # same model as text side and tower

    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        history_mean(big, encoder.encode_items(big.items, cache_dir=cache), user_ids)
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        history_mean(big, encoder.encode_items(big.items, cache_dir=cache), user_ids)
        t_warm = time.perf_counter() - t0
        # the residual model takes the same (cached) item embeddings
        residual.use_item_table(big.items, encoder.encode_items(big.items, cache_dir=cache))

    # Interleaved chunks, alternating which side goes first, so that load changes on a shared
    # machine hit both sides alike.
    t_plain = t_ours = t_residual = 0.0
    plain_parts, our_parts, residual_parts, chunk_ratios = [], [], [], []
    chunk = max(args.batch_size, args.chunk)
    for n_chunk, start in enumerate(range(0, len(joined), chunk)):
        sub = joined[start : start + chunk]
        sub_texts = {k: v[start : start + chunk] for k, v in texts.items()}
        before_plain, before_ours = t_plain, t_ours
        sides = ("plain", "ours", "residual")
        for side in sides if n_chunk % 2 == 0 else sides[::-1]:
            t0 = time.perf_counter()
            if side == "plain":
                plain_parts.append(
                    encoder.model.encode(
                        sub,
                        batch_size=args.batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                    )
                )
                t_plain += time.perf_counter() - t0
            elif side == "ours":
                our_parts.append(encoder.encode_sources(sub_texts))
                t_ours += time.perf_counter() - t0
            else:
                means = residual.history_means(big, user_ids[start : start + chunk])
                residual_parts.append(residual.combine(means, sub_texts))
                t_residual += time.perf_counter() - t0
        chunk_ratios.append((t_plain - before_plain) / (t_ours - before_ours))
    plain, ours = np.concatenate(plain_parts), np.concatenate(our_parts)
    max_diff = float(np.abs(plain - ours).max())
    means = residual.history_means(big, user_ids)
    expected = means + plain @ head.proj.weight.detach().numpy().T + head.proj.bias.detach().numpy()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    residual_diff = float(np.abs(np.concatenate(residual_parts) - expected).max())

    n = len(user_ids)
    rows_out = [
        ("serialise histories (once, shared)", t_text),
        ("plain SentenceTransformer.encode", t_plain),
        ("llmrec UserEncoder.encode_sources", t_ours),
        ("llmrec ResidualUserModel (mean + W f)", t_residual),
        ("history mean, item cache cold", t_cold),
        ("history mean, item cache warm", t_warm),
    ]
    print(f"{n} users, {distinct} distinct texts, max_history_tokens={args.max_history_tokens}")
    print(f"{'step':<40} {'seconds':>9} {'users/s':>10}")
    for name, seconds in rows_out:
        print(f"{name:<40} {seconds:>9.2f} {n / seconds:>10.1f}")
    low, high = np.percentile(chunk_ratios, [10, 90])
    print(
        f"per-chunk speed ratio (llmrec/plain): median {np.median(chunk_ratios):.3f}, "
        f"10-90% [{low:.3f}, {high:.3f}] over {len(chunk_ratios)} chunks"
    )
    print(f"max |plain - llmrec| = {max_diff:.2e}; residual vs recomputed {residual_diff:.2e}")
    result = {
        "users": n,
        "plain_users_per_s": round(n / t_plain, 1),
        "llmrec_users_per_s": round(n / t_ours, 1),
        "ratio": round(t_plain / t_ours, 3),
        "ratio_median_chunk": round(float(np.median(chunk_ratios)), 3),
        "residual_users_per_s": round(n / t_residual, 1),
        "residual_ratio": round(t_plain / t_residual, 3),
        "residual_max_abs_diff": residual_diff,
        "cached_history_mean_users_per_s": round(n / t_warm, 1),
        "cold_history_mean_users_per_s": round(n / t_cold, 1),
        "max_abs_diff": max_diff,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
