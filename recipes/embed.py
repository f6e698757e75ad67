"""Train an instruction-aware user encoder (InstructUE-style) on UserQA built from ml-100k.

Contrastive (InfoNCE) between user(data, instruction) and the answer's embedding, with an
optional autoregressive term (a small causal LM generating the answer from the user embedding
as a soft prefix), or the residual model (``residual: true``). The training itself is
``llmrec.embeddings.train.run_training``, which ``llmrec embed train`` runs too. Saves a ``UserEncoder`` folder that
``llmrec embed users --model <output_dir>`` and ``llmrec embed eval --trained <output_dir>`` load.

Ready to paste (CPU; measured in docs/embeddings.md). The residual model, history mean plus
an instruction-conditioned map that starts at zero:

    python recipes/embed.py --config recipes/minilm/embed/config_residual.yaml

The answer-bank recipe (the whole encoder fine-tuned; about 18 minutes on one idle thread):

    python recipes/embed.py --config recipes/minilm/embed/config_bank.yaml

The first recipe (240 users, duplicate-free batches, no answer bank), kept for reference:

    python recipes/embed.py --config recipes/minilm/embed/config_full.yaml

Plumbing check (seconds):

    python recipes/embed.py --config recipes/tiny-random/embed/config_tiny.yaml --output_dir /tmp/embed-tiny

On GPUs:

    accelerate launch --config_file recipes/accelerate_configs/ddp.yaml recipes/embed.py \
        --config recipes/minilm/embed/config_bank.yaml --use_cpu false
"""

from __future__ import annotations

import logging


def make_parser():
    # One parser for this script and `llmrec embed train`: both run the same run_training.
    from llmrec.embeddings.train import make_parser

    return make_parser()


def main(script_args, training_args, model_args):
    from llmrec.embeddings.train import run_training

    out = run_training(script_args, training_args, model_args)
    print(f"saved the user encoder to {out}")
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    script_args, training_args, model_args = make_parser().parse_args_and_config()
    main(script_args, training_args, model_args)
