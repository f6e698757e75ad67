"""Training an instruction-aware user encoder on UserQA with ``SentenceTransformerTrainer``.

The pieces the recipe ``recipes/embed.py`` and ``llmrec embed train`` wire together:

- :class:`EmbedScriptArguments` and :class:`EmbedModelArguments`: the non-trainer arguments,
  parsed with trl's ``TrlParser`` next to ``SentenceTransformerTrainingArguments``.
- :func:`user_partition`: the fixed split of users into encoder-training and evaluation users
  (the evaluation never sees a user the encoder was trained on).
- :func:`build_pairs`: UserQA examples to a ``datasets.Dataset`` of (user text with the
  instruction prefix, answer) rows, plus answer token ids for the autoregressive term.
- :func:`run_training`: the whole run; saves a :class:`~llmrec.embeddings.encoder.UserEncoder`
  folder.

Example:
    >>> from llmrec.embeddings.train import EmbedScriptArguments, EmbedModelArguments, run_training
    >>> run_training(EmbedScriptArguments(max_users=32), training_args, EmbedModelArguments())  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmrec.embeddings.userqa import TASKS, UserQAExample

logger = logging.getLogger(__name__)

PLACEHOLDER = "unknown"


@dataclass
class EmbedScriptArguments:
    """Data arguments of the embedding recipe.

    Args:
        dataset: A dataset name for :func:`llmrec.data.load_dataset` (``ml-100k``) or a path.
        eval_fraction: Share of users kept out of training for ``llmrec embed eval``.
        split_seed: Seed of the user partition.
        tasks: UserQA tasks to train on.
        max_users: Cap on training users (for quick runs).
        profiles: Optional profile file for the ``profile`` source: ``llmrec profile`` output or
            ``{"user_id", "profile"}`` rows, JSONL or Parquet
            (:func:`llmrec.context.read_profile_texts`).
        paraphrase_backend: Backend spec for LLM paraphrases of the instructions
            (``llmrec.backends.load_backend``), or unset for the templates only.
        paraphrases_per_instruction: Paraphrases asked per distinct instruction.
        history_cuts: Cut points per user inside the training history
            (:func:`~llmrec.embeddings.userqa.next_item_cuts`): each gives a pseudo-user (the
            history before the cut) and its questions; 0 for none.
        cut_tasks: Questions asked of each cut: ``next_item`` (the item after the cut) and any of
            ``typical_era`` (from the prefix), ``age_band``, ``gender``, ``occupation`` (the
            user's own attributes: the same answer for another window of the history).
    """

    dataset: str = "ml-100k"
    eval_fraction: float = 0.5
    split_seed: int = 0
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    max_users: int | None = None
    profiles: str | None = None
    paraphrase_backend: str | None = None
    paraphrases_per_instruction: int = 2
    history_cuts: int = 0
    cut_tasks: list[str] = field(default_factory=lambda: ["next_item"])


@dataclass
class EmbedModelArguments:
    """Model arguments of the embedding recipe.

    Args:
        model_name_or_path: Sentence-transformers model, alias or path.
        random_init: Replace the weights by a small random BERT with the model's tokenizer
            (plumbing tests: trains in seconds).
        random_layers: Layers of that random BERT.
        random_hidden: Hidden size of that random BERT.
        sources: User data sources (``profile``, ``attributes``, ``history``).
        fusion: ``none`` (joined text) or a fusion adapter mode (``attention``, ``concat_mlp``,
            ``mean``).
        max_history_tokens: History budget in tokens (default: model limit minus 64).
        scale: InfoNCE inverse temperature.
        ar_model: Causal LM for the autoregressive term (``tiny-random-llama``,
            ``smollm2-135m-instruct``, a path), or unset for contrastive only.
        ar_weight: Weight of the autoregressive term.
        ar_prefix_tokens: Prefix vectors the user embedding is projected to.
        ar_max_answer_tokens: Answer tokens kept for the autoregressive term.
        ar_train_lm: Train the LM too (default frozen).
        answer_bank: Add every answer of each closed-set task trained on as candidates at every
            step (:mod:`~llmrec.embeddings.negatives`).
        bank_items: Catalogue items sampled into the bank per step (with ``next_item``).
        dedupe: Count each distinct candidate text once in the contrastive softmax.
        bank_grad: Back-propagate through the bank's answer embeddings (without it the answers
            of one task, nearly identical texts, are never pushed apart).
        residual: Train the residual model (:mod:`~llmrec.embeddings.residual`): the history
            mean plus a zero-initialised map of the instruction-aware text embedding, against
            items and answers embedded once by a frozen copy of the base encoder. Give the head
            its own learning rate with ``learning_rate_mapping: '{"^head\\.": 0.001}'``.
        hard_negatives: With ``residual``, popularity-matched negatives per ``next_item``
            example (same popularity decile as the answer, never in the user's history).
        hard_weight: Weight of the hard-negative term.
        freeze_text: With ``residual``, keep the text encoder at its base weights and train
            the head alone (text embeddings computed once per example and cached).
    """

    model_name_or_path: str = "all-minilm-l6-v2"
    random_init: bool = False
    random_layers: int = 2
    random_hidden: int = 64
    sources: list[str] = field(default_factory=lambda: ["attributes", "history"])
    fusion: str = "none"
    max_history_tokens: int | None = None
    scale: float = 20.0
    ar_model: str | None = None
    ar_weight: float = 0.5
    ar_prefix_tokens: int = 4
    ar_max_answer_tokens: int = 32
    ar_train_lm: bool = False
    answer_bank: bool = False
    bank_items: int = 0
    dedupe: bool = True
    bank_grad: bool = True
    residual: bool = False
    hard_negatives: int = 0
    hard_weight: float = 1.0
    freeze_text: bool = False


def make_parser() -> Any:
    """The recipe's ``TrlParser``: script, ``SentenceTransformerTrainingArguments``, model.

    Shared by ``recipes/embed.py`` and ``llmrec embed train``, so both parse (and train) the
    same way: dataclass defaults < YAML ``--config`` < command line.
    """
    from sentence_transformers import SentenceTransformerTrainingArguments
    from trl import TrlParser

    return TrlParser(
        (EmbedScriptArguments, SentenceTransformerTrainingArguments, EmbedModelArguments)
    )


def user_partition(
    user_ids: Sequence[str], eval_fraction: float = 0.5, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Split users into (train, eval) by a seeded hash of each id: stable across runs and
    machines, independent of the order of ``user_ids``."""
    if not 0.0 <= eval_fraction <= 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1], got {eval_fraction}")
    train, evaluation = [], []
    for uid in user_ids:
        digest = hashlib.sha256(f"{seed}:{uid}".encode()).digest()
        share = int.from_bytes(digest[:8], "big") / 2**64
        (evaluation if share < eval_fraction else train).append(str(uid))
    return train, evaluation


def random_sentence_transformer(
    tokenizer_source: str = "all-minilm-l6-v2", layers: int = 2, hidden: int = 64, seed: int = 0
) -> Any:
    """A small random BERT with mean pooling, using the tokenizer of ``tokenizer_source``."""
    import tempfile

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import AutoTokenizer, BertConfig, BertModel

    from llmrec.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(tokenizer_source))
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 32),
        intermediate_size=2 * hidden,
        max_position_embeddings=512,
    )
    with tempfile.TemporaryDirectory() as tmp:
        BertModel(config).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        transformer = Transformer(tmp, max_seq_length=256)
    pooling = Pooling(hidden, "mean")
    return SentenceTransformer(modules=[transformer, pooling], device="cpu")


def build_pairs(
    encoder: Any,
    dataset: Any,
    examples: Sequence[UserQAExample],
    profiles: Mapping[str, str] | None = None,
    answer_tokenizer: Any = None,
    max_answer_tokens: int = 32,
) -> Any:
    """UserQA examples to a training ``datasets.Dataset``.

    Columns: ``user`` (joined user text with the instruction prefix) or one ``user_<source>``
    column per fused source; ``answer_text`` (the answer); and ``label`` with
    the answer's token ids for the autoregressive term when ``answer_tokenizer`` is given.

    Args:
        encoder: The :class:`~llmrec.embeddings.encoder.UserEncoder` being trained (its
            sources, tokenizer and history budget define the user texts).
        dataset: Training interactions (``split.train``).
        examples: UserQA examples.
        profiles: Profiles for the ``profile`` source.
        answer_tokenizer: Tokenizer of the autoregressive LM.
        max_answer_tokens: Answer tokens kept (the EOS token included).
    """
    from datasets import Dataset

    from llmrec.embeddings.instructions import instruction_prefix
    from llmrec.embeddings.sources import join_sources

    users = list(dict.fromkeys(ex.user_id for ex in examples))
    texts = encoder.user_texts(dataset, users, profiles)
    row = {u: i for i, u in enumerate(users)}
    columns: dict[str, list[Any]] = {}
    if encoder.fusion is None:
        joined = join_sources(texts)
        columns["user"] = [
            instruction_prefix(ex.instruction) + joined[row[ex.user_id]] for ex in examples
        ]
    else:
        for source in encoder.sources:
            columns[f"user_{source}"] = [
                instruction_prefix(ex.instruction) + (texts[source][row[ex.user_id]] or PLACEHOLDER)
                for ex in examples
            ]
    columns["answer_text"] = [ex.answer for ex in examples]
    if answer_tokenizer is not None:
        eos = answer_tokenizer.eos_token_id
        ids = answer_tokenizer([ex.answer for ex in examples], add_special_tokens=False)[
            "input_ids"
        ]
        ids = [(seq + ([eos] if eos is not None else []))[:max_answer_tokens] for seq in ids]
        width = max(len(seq) for seq in ids)
        columns["label"] = [seq + [-100] * (width - len(seq)) for seq in ids]
    return Dataset.from_dict(columns)


CUT_TASKS = ("next_item", "will_like", "typical_era", "age_band", "gender", "occupation")


def cut_examples(
    train: Any,
    user_ids: Sequence[str],
    n_cuts: int,
    tasks: Sequence[str] = ("next_item",),
    seed: int = 0,
) -> tuple[Any, list[UserQAExample]]:
    """UserQA examples of pseudo-users cut from inside the training histories.

    Each of ``n_cuts`` cut points per user (:func:`~llmrec.embeddings.userqa.next_item_cuts`)
    gives a pseudo-user whose history is the prefix before the cut, and whose "future" is the
    training interaction right after it. ``next_item`` asks for that item, ``will_like``
    whether its rating is 4 or more; ``typical_era`` is answered from the prefix; the
    attribute tasks from the user's own attributes, which hold for any window of the history.
    No held-out interaction is read.

    Args:
        train: Training interactions (``split.train``).
        user_ids: Users to cut (the training side of the partition).
        n_cuts: Cuts per user.
        tasks: Any of :data:`CUT_TASKS`.
        seed: Seed of the cut positions.

    Returns:
        ``(dataset, examples)``: ``train`` plus the pseudo-users' prefixes, and their examples
        (ordered by pseudo-user, then task in the order of ``tasks``).
    """
    from llmrec.data.records import InteractionDataset
    from llmrec.embeddings.userqa import build_userqa, next_item_cuts

    unknown = [t for t in tasks if t not in CUT_TASKS]
    if unknown or not tasks:
        raise ValueError(f"unknown cut_tasks {unknown or list(tasks)}; allowed: {list(CUT_TASKS)}")
    dataset, cuts = next_item_cuts(train, user_ids, n_cuts, seed=seed)
    pseudo = [ex.user_id for ex in cuts]
    frame = train.interactions
    groups = frame.groupby("user_id", sort=False).indices
    rows = [groups[p.rsplit("@", 1)[0]][int(p.rsplit("@", 1)[1])] for p in pseudo]
    after = frame.iloc[rows].copy()  # the interaction after each cut
    after["user_id"] = pseudo
    future = InteractionDataset(train.items, after, dataset.users, name=f"{train.name}+after-cut")
    return dataset, build_userqa(dataset, future, pseudo, tasks, min_history=1)


def next_item_hard_negatives(
    dataset: Any,
    examples: Sequence[UserQAExample],
    item_pos: Mapping[str, int],
    n: int,
    seed: int = 0,
) -> Any:
    """Popularity-matched negatives of each ``next_item`` example, ``(len(examples), n)``.

    Drawn by :func:`llmrec.data.sampling.popularity_matched_negatives` (same popularity decile
    as the answer item, never an item of the user's history); rows of other tasks are ``-1``.
    Indices are positions in ``item_pos`` (the candidate order).
    """
    import numpy as np

    from llmrec.data.sampling import popularity_matched_negatives

    out = np.full((len(examples), n), -1, dtype=np.int64)
    rows = [k for k, ex in enumerate(examples) if ex.task == "next_item"]
    if not rows or n == 0:
        return out
    matched = popularity_matched_negatives(
        dataset,
        [examples[k].user_id for k in rows],
        [examples[k].label for k in rows],
        n,
        seed=seed,
    )
    to_candidate = np.array([item_pos[i] for i in dataset.item_ids])  # dataset index -> candidate
    out[rows] = to_candidate[matched.items]
    return out


def residual_objective(
    encoder: Any,
    tower: Any,
    head: Any,
    dataset: Any,
    examples: Sequence[UserQAExample],
    profiles: Mapping[str, str] | None = None,
    hard_negatives: int = 0,
    hard_weight: float = 1.0,
    scale: float = 20.0,
    seed: int = 0,
    freeze_text: bool = False,
) -> tuple[Any, Any]:
    """The training rows and the loss of the residual model.

    Candidates are every catalogue item (``next_item``) and every answer of each closed-set task
    among ``examples``, embedded once by the frozen ``tower``; each example's softmax ranges over
    its task's candidates (for ``next_item``: the catalogue minus the user's history items).

    Args:
        encoder: The trainable text side (a :class:`~llmrec.embeddings.encoder.UserEncoder`).
        tower: The frozen :class:`~llmrec.embeddings.encoder.UserEncoder` of items and answers.
        head: The :class:`~llmrec.embeddings.residual.ResidualHead`.
        dataset: Interactions the users' texts and history means come from (``split.train``,
            plus pseudo-users of history cuts).
        examples: UserQA examples (``next_item`` and closed-set tasks only).
        profiles: Profiles for the ``profile`` source.
        hard_negatives: Popularity-matched negatives per ``next_item`` example.
        hard_weight: Weight of their term.
        scale: Inverse temperature.
        seed: Seed of the negative sampling.
        freeze_text: Train the head alone (see :class:`ResidualContrastiveLoss`).

    Returns:
        ``(datasets.Dataset with columns user, label, ResidualContrastiveLoss)``.
    """
    import numpy as np
    import torch
    from datasets import Dataset

    from llmrec.embeddings.encoder import history_mean
    from llmrec.embeddings.instructions import instruction_prefix
    from llmrec.embeddings.losses import ResidualContrastiveLoss
    from llmrec.embeddings.sources import join_sources
    from llmrec.embeddings.userqa import CLASS_TASKS, answer, answer_classes

    unknown = sorted({ex.task for ex in examples} - set(CLASS_TASKS) - {"next_item"})
    if unknown:
        raise ValueError(
            f"the residual model trains on next_item and closed-set tasks {list(CLASS_TASKS)}; "
            f"got {unknown}"
        )
    users = list(dict.fromkeys(ex.user_id for ex in examples))
    row = {u: i for i, u in enumerate(users)}
    joined = join_sources(encoder.user_texts(dataset, users, profiles))
    items = tower.encode_items(dataset.items)  # (n_items, dim)
    item_pos = {iid: i for i, iid in enumerate(items.ids)}
    closed = [t for t in CLASS_TASKS if any(ex.task == t for ex in examples)]
    answer_texts, where, groups_c = [], {}, [0] * len(items)
    for group, task in enumerate(closed, start=1):
        for value in answer_classes(dataset, task):
            where[(task, answer(task, value))] = len(items) + len(answer_texts)
            answer_texts.append(answer(task, value))
            groups_c.append(group)
    candidates = np.concatenate([items.vectors, tower.encode_texts(answer_texts)])  # (C, dim)
    user_means = history_mean(dataset, items, users).vectors  # (n_users, dim)

    positives, groups = [], []
    for ex in examples:
        if ex.task == "next_item":
            positives.append(item_pos[ex.label])
            groups.append(0)
        else:
            if (ex.task, ex.answer) not in where:
                raise ValueError(
                    f"user {ex.user_id!r}, task {ex.task!r}: answer {ex.answer!r} is not among the "
                    "task's answer classes"
                )
            positives.append(where[(ex.task, ex.answer)])
            groups.append(1 + closed.index(ex.task))
    # The items of each user's history leave the next-item softmax (evaluation masks them too).
    frame = dataset.interactions
    history = frame.groupby("user_id", sort=False)["item_id"].agg(list).to_dict()
    seen = np.zeros((len(examples), len(candidates)), bool)
    for n, ex in enumerate(examples):
        if ex.task == "next_item":
            seen[n, [item_pos[i] for i in history.get(ex.user_id, ()) if i in item_pos]] = True
    hard = None
    if hard_negatives:
        hard = next_item_hard_negatives(dataset, examples, item_pos, hard_negatives, seed)
    loss = ResidualContrastiveLoss(
        encoder.model,
        head,
        means=torch.from_numpy(user_means[[row[ex.user_id] for ex in examples]]),
        positives=torch.tensor(positives),
        groups=torch.tensor(groups),
        candidates=torch.from_numpy(candidates),
        candidate_groups=torch.tensor(groups_c),
        seen=torch.from_numpy(seen),
        hard=None if hard is None else torch.from_numpy(hard),
        scale=scale,
        hard_weight=hard_weight,
        freeze_text=freeze_text,
    )
    train_dataset = Dataset.from_dict(
        {
            "user": [
                instruction_prefix(ex.instruction) + joined[row[ex.user_id]] for ex in examples
            ],
            "label": list(range(len(examples))),
        }
    )
    return train_dataset, loss


def run_training(
    script_args: EmbedScriptArguments, training_args: Any, model_args: EmbedModelArguments
) -> Path:
    """Build UserQA from the training users, train, and save the encoder to ``output_dir``.

    Returns:
        The output folder (a :class:`~llmrec.embeddings.encoder.UserEncoder` folder).
    """
    import torch
    from sentence_transformers import SentenceTransformerTrainer

    from llmrec.context.profile_files import read_profile_texts
    from llmrec.data import leave_one_out, load_dataset
    from llmrec.embeddings.encoder import CONFIG_NAME, UserEncoder
    from llmrec.embeddings.fusion import FusionAdapter
    from llmrec.embeddings.losses import PrefixAnswerHead, UserContrastiveLoss
    from llmrec.embeddings.negatives import answer_bank
    from llmrec.embeddings.userqa import (
        apply_paraphrases,
        build_userqa,
        paraphrase_instructions,
    )
    from llmrec.models import load_causal_lm, load_sentence_transformer

    torch.manual_seed(training_args.seed)
    data = load_dataset(script_args.dataset)
    split = leave_one_out(data)
    train_users, _ = user_partition(
        split.train.active_users(), script_args.eval_fraction, script_args.split_seed
    )
    if script_args.max_users is not None:
        train_users = train_users[: script_args.max_users]
    profiles = read_profile_texts(script_args.profiles) if script_args.profiles else None
    # Future questions are answered from the validation item; the test item stays unseen.
    examples = build_userqa(split.train, split.valid, train_users, script_args.tasks)
    source = split.train
    if script_args.history_cuts:
        source, extra = cut_examples(
            split.train,
            train_users,
            script_args.history_cuts,
            script_args.cut_tasks,
            seed=training_args.seed,
        )
        examples = examples + extra
    if script_args.paraphrase_backend:
        from llmrec.backends import load_backend

        backend = load_backend(script_args.paraphrase_backend)
        paraphrases = paraphrase_instructions(
            [ex.instruction for ex in examples], backend, script_args.paraphrases_per_instruction
        )
        examples = apply_paraphrases(examples, paraphrases, seed=training_args.seed)
    logger.info("%d UserQA examples from %d training users", len(examples), len(train_users))

    device = "cpu" if getattr(training_args, "use_cpu", False) else None
    if model_args.random_init:
        model = random_sentence_transformer(
            model_args.model_name_or_path, model_args.random_layers, model_args.random_hidden
        )
    else:
        model = load_sentence_transformer(model_args.model_name_or_path, device=device)
    fusion = None
    if model_args.fusion != "none":
        fusion = FusionAdapter(
            model.get_embedding_dimension(), model_args.sources, model_args.fusion
        ).to(model.device)
    encoder = UserEncoder(
        model,
        fusion=fusion,
        sources=model_args.sources,
        max_history_tokens=model_args.max_history_tokens,
    )
    head, answer_tokenizer = None, None
    if model_args.ar_model:
        lm, answer_tokenizer = load_causal_lm(model_args.ar_model, device=str(model.device))
        lm.train(model_args.ar_train_lm)
        head = PrefixAnswerHead(
            lm, encoder.dim, model_args.ar_prefix_tokens, model_args.ar_train_lm
        ).to(model.device)
    bank, tower, residual_head = None, None, None
    if model_args.residual:
        import copy

        from llmrec.embeddings.residual import ResidualHead

        if fusion is not None or head is not None or model_args.answer_bank:
            raise ValueError(
                "residual: true trains the joined-text encoder alone: set fusion: none and "
                "leave ar_model and answer_bank unset"
            )
        # The frozen tower: the base weights, before any step.
        tower = UserEncoder(copy.deepcopy(model).eval(), sources=model_args.sources)
        for p in tower.model.parameters():
            p.requires_grad_(False)
        residual_head = ResidualHead(encoder.dim).to(model.device)
        train_dataset, loss = residual_objective(
            encoder,
            tower,
            residual_head,
            source,
            examples,
            profiles,
            hard_negatives=model_args.hard_negatives,
            hard_weight=model_args.hard_weight,
            scale=model_args.scale,
            seed=training_args.seed,
            freeze_text=model_args.freeze_text,
        )
    else:
        train_dataset = build_pairs(
            encoder, source, examples, profiles, answer_tokenizer, model_args.ar_max_answer_tokens
        )
        if model_args.answer_bank:
            trained_tasks = [t for t in TASKS if any(ex.task == t for ex in examples)]
            bank = answer_bank(
                split.train, trained_tasks, model_args.bank_items, training_args.seed
            )
            logger.info(
                "answer bank: %d fixed answers + %d items per step",
                len(bank.fixed),
                bank.n_sampled,
            )
        loss = UserContrastiveLoss(
            model,
            fusion,
            head,
            model_args.ar_weight,
            model_args.scale,
            bank=bank,
            dedupe=model_args.dedupe,
            bank_grad=model_args.bank_grad,
        )
    trainer = SentenceTransformerTrainer(
        model=model, args=training_args, train_dataset=train_dataset, loss=loss
    )
    trainer.train()
    out = Path(training_args.output_dir)
    encoder.name = str(out)
    if residual_head is not None:
        from llmrec.embeddings.residual import ResidualUserModel

        ResidualUserModel(encoder, tower, residual_head.cpu()).save(out)
    else:
        encoder.save(out)
    if head is not None:
        from safetensors.torch import save_file

        state = {k: v.detach().cpu().contiguous() for k, v in head.proj.state_dict().items()}
        save_file(state, str(out / "answer_head_proj.safetensors"))
    config = json.loads((out / CONFIG_NAME).read_text())
    config["training"] = {
        "dataset": script_args.dataset,
        "eval_fraction": script_args.eval_fraction,
        "split_seed": script_args.split_seed,
        "users": len(train_users),
        "examples": len(examples),
        "examples_per_task": dict(Counter(ex.task for ex in examples)),
        "answer_bank": None
        if bank is None
        else {"fixed": len(bank.fixed), "items": bank.n_sampled},
        "script_args": asdict(script_args),
        "model_args": asdict(model_args),
        "log_history": trainer.state.log_history,
    }
    (out / CONFIG_NAME).write_text(json.dumps(config, indent=2, default=str))
    return out
