"""DPO for profile generation, as LettinGo does: profile sampling and scoring, preference pairs,
arguments and evaluation of ``recipes/dpo.py``."""
