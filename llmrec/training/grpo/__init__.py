"""GRPO with a simulated user (RLPA): arguments, rewards, warm start and evaluation of
``recipes/grpo.py``."""
