"""Parts of critic training that :mod:`neural_mi.train` puts together.

:mod:`~neural_mi.training.outcome` (what training returns),
:mod:`~neural_mi.training.samples` (the samples of a split, batch by batch),
:mod:`~neural_mi.training.engines` (how a step and an evaluation are computed),
:mod:`~neural_mi.training.evaluation` (evaluation subsets, batches and ceilings),
:mod:`~neural_mi.training.divergence` (what counts as divergence, and how it is reported),
:mod:`~neural_mi.training.epochs` (one attempt: the epoch loop with early stopping).
"""
