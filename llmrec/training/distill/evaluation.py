"""Teacher against student: full-ranking quality, parameter counts and latency, side by side."""

from __future__ import annotations

from typing import Any


def compare_models(
    models: dict[str, Any],
    split: Any,
    collator: Any,
    max_history: int,
    eval_users: int = 0,
    batch_size: int = 64,
    latency_rounds: int = 5,
    device: Any = "cpu",
) -> dict[str, dict[str, Any]]:
    """``{name: {hr@10, ndcg@10, ..., params, block_params, layers, latency_ms_per_batch}}``.

    Quality is :func:`~llmrec.training.distill.slmrec.evaluate_next_item` (leave-one-out test
    items, full ranking, history masked); latency is measured for all models in alternating
    rounds over the same batch, so their ratio holds on a loaded machine.
    """
    from llmrec.training.distill.slmrec import count_parameters, evaluate_next_item, measure_latency

    metrics = {
        name: evaluate_next_item(
            model, split, max_history, max_users=eval_users, batch_size=batch_size, device=device
        ).to_dict()
        for name, model in models.items()
    }
    latency = measure_latency(
        list(models.values()),
        collator,
        split.train,
        batch_size=batch_size,
        rounds=latency_rounds,
        device=device,
    )
    for (name, model), ms in zip(models.items(), latency):
        metrics[name].update(
            params=count_parameters(model),
            block_params=count_parameters(model.decoder)
            - count_parameters(model.decoder.get_input_embeddings()),
            layers=model.num_layers,
            latency_ms_per_batch=ms,
        )
    return metrics


def summarise(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Shares the student keeps of the teacher's quality, size and latency, as one flat dict."""
    t, s = metrics["teacher"], metrics["student"]
    nan = float("nan")
    summary = {
        "teacher_ndcg@10": t["ndcg@10"],
        "student_ndcg@10": s["ndcg@10"],
        "teacher_hr@10": t["hr@10"],
        "student_hr@10": s["hr@10"],
        "ndcg_share_kept": s["ndcg@10"] / t["ndcg@10"] if t["ndcg@10"] else nan,
        "hr_share_kept": s["hr@10"] / t["hr@10"] if t["hr@10"] else nan,
        "layer_share": s["layers"] / t["layers"],
        "param_share": s["params"] / t["params"],
        "block_param_share": s["block_params"] / t["block_params"],
        "inference_speedup": t["latency_ms_per_batch"] / s["latency_ms_per_batch"],
        "eval_users": t["users"],
    }
    if "student (CE only)" in metrics:
        summary["undistilled_student_ndcg@10"] = metrics["student (CE only)"]["ndcg@10"]
    return summary


def format_table(metrics: dict[str, dict[str, Any]]) -> str:
    """Layers, parameters, HR@10, NDCG@10 and latency per model, as a text table."""
    lines = [f"{'model':<20}{'layers':>7}{'params':>12}{'HR@10':>8}{'NDCG@10':>9}{'ms/batch':>10}"]
    for name, m in metrics.items():
        lines.append(
            f"{name:<20}{m['layers']:>7}{m['params']:>12,}{m['hr@10']:>8.4f}"
            f"{m['ndcg@10']:>9.4f}{m['latency_ms_per_batch']:>10.1f}"
        )
    return "\n".join(lines)
