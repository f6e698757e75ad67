"""Training, one sub-package per method, behind the recipes in ``recipes/`` (``llmrec.recipes``).

=====================  ==========================================================================
``sft/``               LoRA SFT: next-item titles or TALLRec Yes/No (``recipes/sft.py``)
``dpo/``               DPO of the profile writer, as LettinGo does (``recipes/dpo.py``)
``distill/``           SLMRec: a next-item recommender on a cut LM, distilled (``recipes/distill.py``)
``grpo/``              GRPO with a simulated user, as RLPA does (``recipes/grpo.py``)
``runtime.py``         device checks, model loading, argument parsing, rank fingerprints, metrics I/O
``data.py``            a dataset by name, disjoint train/eval users
``reporting.py``       confidence intervals in a recipe's flat metrics
=====================  ==========================================================================

The recipes (``accelerate launch recipes/<method>.py --config ...``) are thin scripts over trl;
each method's arguments, datasets and evaluation live in its sub-package so that they are tested
and importable.
"""
