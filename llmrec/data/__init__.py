"""Data layer: records, loaders, splits, sampling and the synthetic world."""

from llmrec.data.catalog import fetch_dataset, load_dataset
from llmrec.data.records import DatasetStats, Interaction, InteractionDataset, Item, User
from llmrec.data.splits import Split, leave_one_out

__all__ = [
    "DatasetStats",
    "Interaction",
    "InteractionDataset",
    "Item",
    "Split",
    "User",
    "fetch_dataset",
    "leave_one_out",
    "load_dataset",
]
