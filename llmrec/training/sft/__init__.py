"""LoRA SFT for recommendation as language (next-item titles or TALLRec Yes/No): arguments,
datasets and evaluation of ``recipes/sft.py``."""
