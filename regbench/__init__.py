"""regbench: reference regularization components, their invariants, and benchmarks for PyTorch."""

from regbench.assertions import BenchmarkAssertionError, assert_better, assert_equivalent, assert_no_worse
from regbench.augment import digit_train_transform, notebook_train_transform, test_transform
from regbench.configs import CONFIGS, Config, ConfigError, select_configs
from regbench.data import (
    ImageDataset,
    Samples,
    Split,
    TensorLoader,
    embedded_digits,
    load_idx,
    select_n_per_class,
    small_data_split,
)
from regbench.datasets import Dataset, load_dataset, select_datasets
from regbench.losses import (
    ElasticNetLoss,
    LassoLoss,
    LossParts,
    MixedL1L2Loss,
    PenaltyLoss,
    RidgeLoss,
    penalized_parameters,
)
from regbench.metrics import generalization_gap, mean_abs_weight, sparsity, weight_histogram
from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout
from regbench.errors import UsageError
from regbench.ranking import rank
from regbench.records import Measurement, RunRecord
from regbench.report import render_table
from regbench.results import load_results, summarize
from regbench.runner import run
from regbench.train import History, TrainingDiverged, accuracy, evaluate, seed_everything, train_model

__version__ = "0.1.0"

__all__ = [
    "CONFIGS",
    "Config",
    "ConfigError",
    "Dataset",
    "ElasticNetLoss",
    "FullyConnected",
    "FullyConnectedBatchNorm",
    "FullyConnectedDropout",
    "History",
    "ImageDataset",
    "LassoLoss",
    "LossParts",
    "Measurement",
    "MixedL1L2Loss",
    "PenaltyLoss",
    "RidgeLoss",
    "RunRecord",
    "Samples",
    "Split",
    "TensorLoader",
    "TrainingDiverged",
    "UsageError",
    "BenchmarkAssertionError",
    "accuracy",
    "assert_better",
    "assert_equivalent",
    "assert_no_worse",
    "digit_train_transform",
    "embedded_digits",
    "evaluate",
    "generalization_gap",
    "load_dataset",
    "load_idx",
    "load_results",
    "mean_abs_weight",
    "notebook_train_transform",
    "penalized_parameters",
    "rank",
    "render_table",
    "run",
    "seed_everything",
    "select_configs",
    "select_datasets",
    "select_n_per_class",
    "small_data_split",
    "sparsity",
    "summarize",
    "test_transform",
    "train_model",
    "weight_histogram",
]
