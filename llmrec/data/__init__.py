"""Data layer: records, loaders, splits, windows, sampling and the synthetic world."""

from llmrec.data.catalog import fetch_dataset, load_dataset
from llmrec.data.errors import DataFormatError
from llmrec.data.records import DatasetStats, Interaction, InteractionDataset, Item, User
from llmrec.data.sampling import sample_negatives, sample_pair_negatives
from llmrec.data.splits import Split, kcore, leave_one_out, ratio_split, temporal_split
from llmrec.data.synthetic import GoldProfile, SyntheticConfig, SyntheticWorld, generate_world
from llmrec.data.validation import LoadReport, ValidationPolicy
from llmrec.data.windows import last_days, last_n, window

__all__ = [
    "DataFormatError",
    "DatasetStats",
    "GoldProfile",
    "Interaction",
    "InteractionDataset",
    "Item",
    "LoadReport",
    "Split",
    "SyntheticConfig",
    "SyntheticWorld",
    "User",
    "ValidationPolicy",
    "fetch_dataset",
    "generate_world",
    "kcore",
    "last_days",
    "last_n",
    "leave_one_out",
    "load_dataset",
    "ratio_split",
    "sample_negatives",
    "sample_pair_negatives",
    "temporal_split",
    "window",
]
