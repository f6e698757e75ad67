"""The training recipes, shipped inside the wheel as ``llmrec.recipes`` (as trl ships ``trl.scripts``).

From a checkout: ``accelerate launch recipes/<method>.py --config recipes/<model>/<method>/config_<variant>.yaml``.
From an install: ``accelerate launch -m llmrec.recipes.<method> --config <yaml>``; the YAML configs
ship beside the scripts. ``llmrec/recipes`` is a link to this folder, so a
checkout and a wheel hold the same files.
"""
