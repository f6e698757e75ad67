"""Control for a DPO run: the scorer's held-out AUC when the profile is empty.

Rebuilds the run's held-out users and candidates from ``<run>/eval_metrics.json`` (same seeds),
checks they match ``<run>/eval_profiles.jsonl``, scores every candidate with an empty profile,
and prints JSON: the empty-profile AUC and the paired differences before/after minus empty, each
``[mean, ci_low, ci_high]`` (95% bootstrap over users). It shows how much the scorer uses a
profile at all.

    OMP_NUM_THREADS=1 python eval/experiments/dpo_control_empty_profile.py runs/smollm2-dpo-profiles
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(run: Path) -> dict:
    import numpy as np

    from llmrec.backends.hf import TransformersBackend
    from llmrec.data import leave_one_out
    from llmrec.metrics.stats import paired_bootstrap_ci, paired_difference_ci
    from llmrec.training.data import load_recipe_dataset, sample_train_eval_users
    from llmrec.training.dpo.lettingo import heldout_tasks, profile_builder, score_profiles

    settings = json.loads((run / "eval_metrics.json").read_text())["settings"]
    args, seed = settings["script"], settings["seed"]
    rows = [json.loads(line) for line in (run / "eval_profiles.jsonl").read_text().splitlines()]
    split = leave_one_out(load_recipe_dataset(args["dataset"], seed=seed), validation=False)
    _, eval_users = sample_train_eval_users(
        split, args["train_users"], args["eval_users"], seed, min_history=args["recent_k"] + 1
    )
    negatives = args["eval_negatives"] or args["n_negatives"]
    scorer = TransformersBackend(args["scorer_model"] or settings["model"], device="cpu")
    # only the negatives and targets matter here; the builder's prompt is not generated from
    builder = profile_builder(scorer, args["history_len"])
    tasks = heldout_tasks(builder, split, eval_users, negatives, seed + 1)
    if [t.user_id for t in tasks] != [r["user_id"] for r in rows]:
        raise ValueError(f"{run}/eval_profiles.jsonl does not hold the users its settings draw")
    start = time.perf_counter()
    empty = score_profiles(scorer, split.train, tasks, [[""] for _ in tasks])[:, 0]  # (users,)
    before = np.array([r["before_auc"] for r in rows])
    after = np.array([r["after_auc"] for r in rows])
    return {
        "empty_profile_auc": paired_bootstrap_ci(empty, seed=seed).to_dict(),
        "before_minus_empty": paired_difference_ci(before, empty, seed=seed).to_dict(),
        "after_minus_empty": paired_difference_ci(after, empty, seed=seed).to_dict(),
        "seconds": time.perf_counter() - start,
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(
            "usage: eval/experiments/dpo_control_empty_profile.py <output_dir of a recipes/dpo.py run>"
        )
    print(json.dumps(main(Path(sys.argv[1]))))
