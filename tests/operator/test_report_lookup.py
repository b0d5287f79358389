"""``herd report ltr/RUN``: the results prefix comes from the run's status."""

from __future__ import annotations

import pytest

from herd_operator.report_lookup import ResultsNotFound, results_of_status

URI = "s3://load-results/team-a/perf/sdxl/sdxl-g1/"


def test_the_prefix_of_a_merged_run():
    status = {"results": {"source": "store", "report": URI + "merged.json"}}
    assert results_of_status("sdxl-g1", status) == URI


def test_a_run_without_stored_results_says_so():
    with pytest.raises(ResultsNotFound, match=r"no stored results.*source: summaries"):
        results_of_status("sdxl-g1", {"results": {"source": "summaries"}})
