"""Run regbench's invariants against *your* model, penalty loss or augmentation.

    from regbench import checks
    report = checks.check_model(MyNet)              # a class or zero-argument factory
    report = checks.check_loss(MyL2Loss)            # Loss(base_criterion, model, lam), or model -> loss
    report = checks.check_transform(my_augment)     # PIL image or tensor in, tensor out
    report = checks.check_config(MY_CONFIG)         # its model, its loss on that model, its augmentations
    print(report.render()); report.ok

Each invariant is defined once, in ``engine.Invariant`` form (what it checks, when it applies, how
its inputs are drawn, what it asserts, the fix), and runs from three places: here, searched with
Hypothesis (derandomized, no example database, so a run is the same on every machine); in the
property suite on regbench's own components (properties/test_invariants.py); and in the mutation
check that proves it can fail (properties/test_mutations.py). A few are read off the object, not
searched (BatchNorm's running statistics; label preservation, a one-sided binomial test on a
reference classifier). What applies is decided by inspecting the object's behaviour (has it a
module that drops at random in train mode? BatchNorm? does the loss take a lambda?); an invariant
that does not apply is reported ``not_applicable`` with the reason. The user's object is never modified: checks work on
deep
copies or on fresh instances from the factory, and every global RNG is restored afterwards.

Statistical invariants keep their false-failure rate per check run under ``ALPHA`` = 1e-7.
``pytest_plugin`` turns reports into pytest tests; ``regbench check`` prints them.
"""

from regbench.checks.configs import check_config
from regbench.checks.losses import check_loss
from regbench.checks.models import check_model
from regbench.checks.report import (
    ALPHA,
    KINDS,
    MAX_EXAMPLES,
    CheckUsageError,
    Report,
    Result,
    Status,
)
from regbench.checks.subject import (
    INVARIANTS,
    check,
    check_target,
    kind_of,
    load_target,
    name_of,
)
from regbench.checks.transforms import check_transform

__all__ = [
    "ALPHA",
    "CheckUsageError",
    "INVARIANTS",
    "KINDS",
    "MAX_EXAMPLES",
    "Report",
    "Result",
    "Status",
    "check",
    "check_config",
    "check_loss",
    "check_model",
    "check_target",
    "check_transform",
    "kind_of",
    "load_target",
    "name_of",
]
