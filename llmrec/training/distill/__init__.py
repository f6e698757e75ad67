"""SLMRec distillation: the item-ID recommender on a cut LM, its distillation trainer, and the
arguments and evaluation of ``recipes/distill.py``."""
