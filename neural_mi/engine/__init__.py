"""The engine: what turns planned tasks into results, whoever calls it.

- :mod:`~neural_mi.engine.inputs`: a session's validated raw data (:class:`SessionData`)
  and the objects a task needs that cannot travel in a spec (:class:`TaskContext`);
- :mod:`~neural_mi.engine.task`: one task or one group of tasks, start to end
  (data, split, critics, training, result);
- :mod:`~neural_mi.engine.execution`: the one loop that runs a list of tasks, serially or
  in a process pool (:mod:`~neural_mi.engine.pool`), resuming from and writing to a
  folder of task stores; ``nmi.run`` and the workflow's train jobs both use it.
"""
