"""Training-data builders, losses and helpers used by the recipes in ``recipes/``.

The recipes (``accelerate launch recipes/<method>.py --config ...``) are thin scripts over trl;
what they share (datasets built from the data layer, evaluation of the trained model, device
checks) lives here so that it is tested and importable.
"""
