"""What runners hand to whoever merges their results, in one home both sides import.

A runner (``herd run --summary``) writes a bounded summary (``summary``, its size proven
by ``summary_bounds``, its latency at the finest precision that fits, ``latency``); the
operator decodes and merges the summaries of a run's runners (``merge``) and judges the
spec's thresholds on the merged numbers with the engine's own code. Nothing here knows of
Kubernetes: the operator is one reader of this contract, ``herd report`` another.
"""
