"""regbench: reference regularization components, their invariants, and benchmarks for PyTorch."""

from regbench.augment import digit_train_transform, notebook_train_transform, test_transform
from regbench.configs import CONFIGS, Config
from regbench.data import ImageDataset, Split, TensorLoader, embedded_digits, load_dataset, load_idx, select_n_per_class, small_data_split
from regbench.losses import ElasticNetLoss, LassoLoss, LossParts, MixedL1L2Loss, PenaltyLoss, RidgeLoss, penalized_parameters
from regbench.metrics import generalization_gap, mean_abs_weight, sparsity, weight_histogram
from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout
from regbench.train import History, TrainingDiverged, accuracy, evaluate, seed_everything, train_model

__version__ = "0.1.0"

__all__ = [
    "CONFIGS",
    "Config",
    "ElasticNetLoss",
    "FullyConnected",
    "FullyConnectedBatchNorm",
    "FullyConnectedDropout",
    "History",
    "ImageDataset",
    "LassoLoss",
    "LossParts",
    "MixedL1L2Loss",
    "PenaltyLoss",
    "RidgeLoss",
    "Split",
    "TensorLoader",
    "TrainingDiverged",
    "accuracy",
    "digit_train_transform",
    "embedded_digits",
    "evaluate",
    "generalization_gap",
    "load_dataset",
    "load_idx",
    "mean_abs_weight",
    "notebook_train_transform",
    "penalized_parameters",
    "seed_everything",
    "select_n_per_class",
    "small_data_split",
    "sparsity",
    "test_transform",
    "train_model",
    "weight_histogram",
]
