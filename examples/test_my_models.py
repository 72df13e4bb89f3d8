"""regbench's invariants on the components in my_models.py, one pytest test per invariant.

    pytest examples/test_my_models.py

The correct components pass (invariants that do not apply are skipped with the reason); each broken
one fails the invariant its bug breaks, with the counterexample and the fix in the message.
"""

from my_models import BatchStatsNet, L2OnEverything, LeakyDropoutNet, MyL2Loss, MyNet, mirror_augment, my_augment

from regbench.pytest_plugin import regbench_check_loss, regbench_check_model, regbench_check_transform

test_my_net = regbench_check_model(MyNet)
test_my_l2_loss = regbench_check_loss(MyL2Loss, model=MyNet)
test_my_augment = regbench_check_transform(my_augment)

# Each of these fails, on purpose: the bug each one carries is named in its docstring.
test_leaky_dropout_net = regbench_check_model(LeakyDropoutNet)
test_batch_stats_net = regbench_check_model(BatchStatsNet)
test_l2_on_everything = regbench_check_loss(L2OnEverything, model=MyNet)
test_mirror_augment = regbench_check_transform(mirror_augment)
