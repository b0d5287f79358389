"""The run's results from the merge Job's termination message: the exact merge of the
runners' full reports, in the bounded summary format a runner's own summary has."""

from __future__ import annotations

from collections.abc import Sequence

from herd.api.results import S3ResultsSpec
from herd.api.status import RunResults
from herd.results.lost_runners import lost_runners, missing_reason
from herd.results.merge import merge_results
from herd.results.summary import RunnerSummary
from herd_operator.objects import RunObject
from herd_operator.results_location import merged_uris


def store_results(
    run: RunObject, merged: RunnerSummary, missing: Sequence[int], store: S3ResultsSpec
) -> RunResults:
    """``merged`` (the whole run's numbers: runners lost in it are already counted as
    unknown) as the run's results, pointing at ``merged.json`` and ``report.html``."""
    # One summary of the whole run: judged as a run of one, so no share is added again.
    whole = merged.model_copy(update={"runner": 0, "runners": 1})
    results = merge_results(run.spec, [whole])
    report, html = merged_uris(store, run)
    total = run.spec.parallelism
    update: dict[str, object] = {
        "runners_reported": total - len(missing),
        "missing_runners": list(missing),
        "source": "store",
        "report": report,
        "html": html,
        # The merge's diagnostics are the run's, not one runner's.
        "diagnostics": [line.removeprefix("runner 0: ") for line in results.diagnostics],
    }
    if missing and results.verdict == "inconclusive":
        reported = set(range(total)) - set(missing)
        update["verdict_reason"] = missing_reason(lost_runners(run.spec, reported, total))
    return results.model_copy(update=update)
