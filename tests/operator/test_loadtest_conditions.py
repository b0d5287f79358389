"""A LoadTest's conditions: its own (Ready, Running, Reconciling) and those it mirrors
from its latest finished run, so `kubectl wait lt/NAME --for=condition=ThresholdsPassed`
answers for the run it waits on, never for an older one."""

from __future__ import annotations

from datetime import timedelta

from herd.api.status import Reason, RunResults
from herd_operator.conditions import run_conditions
from herd_operator.objects import rfc3339
from tests.operator.fixtures import CREATED, MINIMAL_SPEC, loadtest, run_body
from tests.operator.test_scheduling import decide

NOW = rfc3339(CREATED)


def results(verdict: str, reason: str = "") -> RunResults:
    return RunResults.model_validate(
        {
            "runnersReported": 3,
            "requests": {"planned": 30, "sent": 30, "ok": 30, "failed": 0, "neverSent": 0},
            "throughputRps": 10.0,
            "durationSeconds": 3.0,
            "startSkewSeconds": 0.0,
            "workers": {"distinct": 3, "exact": True},
            "clientLimited": verdict == "inconclusive",
            "thresholds": [{"expr": "p95 < 2s", "value": 3.0, "passed": verdict != "failed"}],
            "verdict": verdict,
            "verdictReason": reason,
        }
    )


def finished_run(name: str, verdict: str, minutes: int = 1, reason: str = "") -> dict:
    outcome = results(verdict, reason)
    conditions = run_conditions("Succeeded", None, outcome, [], NOW, 1, verdict=outcome.verdict)
    status = {
        "phase": "Succeeded",
        "verdict": verdict,
        "completionTime": rfc3339(CREATED + timedelta(minutes=minutes, seconds=30)),
        "conditions": [c.model_dump(mode="json", by_alias=True) for c in conditions],
    }
    return run_body(name=name, status=status, created=CREATED + timedelta(minutes=minutes))


def running_run(name: str, minutes: int) -> dict:
    conditions = run_conditions("Running", None, None, [], NOW, 1)
    status = {
        "phase": "Running",
        "conditions": [c.model_dump(mode="json", by_alias=True) for c in conditions],
    }
    return run_body(name=name, status=status, created=CREATED + timedelta(minutes=minutes))


def conditions(status: dict) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def message(status: dict, kind: str) -> str:
    return next(c["message"] for c in status["conditions"] if c["type"] == kind)


def recorded(generation: int = 1) -> dict:
    body = loadtest(generation=generation)
    body["status"] = {"lastAppliedGeneration": generation}
    return body


def test_a_passed_run_makes_its_loadtest_pass():
    decision = decide(recorded(), [finished_run("sdxl-burst-g1", "passed")])
    status = decision.status
    assert conditions(status) == {
        "Ready": ("True", "Accepted"),
        "Running": ("False", "NoActiveRun"),
        "Reconciling": ("False", "NoActiveRun"),
        "Succeeded": ("True", "Completed"),
        "Failed": ("False", "Completed"),
        "ThresholdsPassed": ("True", "ThresholdsMet"),
        "Inconclusive": ("False", "Conclusive"),
        "Stalled": ("False", "Completed"),
    }
    assert message(status, "ThresholdsPassed") == "run sdxl-burst-g1"
    assert all(c["observedGeneration"] == 1 for c in status["conditions"])
    assert status["phase"] == "Succeeded"  # lifecycle, whatever the verdict


def test_failed_thresholds_are_false_and_stalled_though_the_phase_is_succeeded():
    decision = decide(recorded(), [finished_run("sdxl-burst-g1", "failed")])
    status = decision.status
    assert status["phase"] == "Succeeded"
    assert conditions(status)["ThresholdsPassed"] == ("False", "ThresholdsFailed")
    assert conditions(status)["Stalled"] == ("True", "ThresholdsFailed")
    assert message(status, "ThresholdsPassed") == "run sdxl-burst-g1: failed: p95 < 2s (was 3)"


def test_an_inconclusive_run_is_neither_passed_nor_failed():
    why = "runner 0: client-limited: calls waited for their own S3 uploads"
    decision = decide(recorded(), [finished_run("sdxl-burst-g1", "inconclusive", reason=why)])
    status = decision.status
    assert conditions(status)["Inconclusive"] == ("True", "Inconclusive")
    assert conditions(status)["ThresholdsPassed"] == ("Unknown", "Inconclusive")
    assert conditions(status)["Stalled"] == ("True", "Inconclusive")
    assert message(status, "Inconclusive") == f"run sdxl-burst-g1: {why}"


def test_a_new_run_hides_the_old_verdict_until_it_ends():
    old = finished_run("sdxl-burst-g1", "passed")
    # The spec changed: the operator creates the run for generation 2 in this very step.
    created = decide(
        recorded(generation=1) | {"metadata": loadtest(generation=2)["metadata"]}, [old]
    )
    assert created.create is not None and created.create["metadata"]["name"] == "sdxl-burst-g2"
    assert conditions(created.status)["ThresholdsPassed"] == ("Unknown", "InProgress")
    assert conditions(created.status)["Reconciling"] == ("True", "InProgress")
    # And on later reconciles, while that run goes on.
    body = recorded(generation=2)
    going = decide(body, [old, running_run("sdxl-burst-g2", minutes=3)])
    assert conditions(going.status)["ThresholdsPassed"] == ("Unknown", "InProgress")
    assert conditions(going.status)["Running"] == ("True", "InProgress")
    assert message(going.status, "Running") == "running: sdxl-burst-g2"
    done = decide(body, [old, finished_run("sdxl-burst-g2", "failed", minutes=3)])
    assert conditions(done.status)["ThresholdsPassed"] == ("False", "ThresholdsFailed")
    assert message(done.status, "ThresholdsPassed").startswith("run sdxl-burst-g2: ")


def test_an_invalid_spec_is_not_ready_and_stalled():
    decision = decide(loadtest({**MINIMAL_SPEC, "parallelism": 31}))
    status = decision.status
    assert conditions(status)["Ready"] == ("False", "InvalidSpec")
    assert conditions(status)["Stalled"] == ("True", "InvalidSpec")
    assert message(status, "Ready").startswith("spec.parallelism: 31 runners")


def test_a_transition_time_moves_only_when_the_status_changes():
    runs = [finished_run("sdxl-burst-g1", "passed")]
    first = decide(recorded(), runs)
    body = recorded()
    body["status"] = first.status
    later = decide(body, runs, now=CREATED + timedelta(hours=1))
    assert later.status["conditions"] == first.status["conditions"]
    body["status"] = later.status
    failed = decide(
        body, [finished_run("sdxl-burst-g1", "failed")], now=CREATED + timedelta(hours=2)
    )
    stamps = {c["type"]: c["lastTransitionTime"] for c in failed.status["conditions"]}
    assert stamps["ThresholdsPassed"] == rfc3339(CREATED + timedelta(hours=2))
    assert stamps["Ready"] == first.status["conditions"][0]["lastTransitionTime"]


def test_every_reason_a_condition_carries_is_in_the_fixed_table():
    body = loadtest()
    for runs in ([], [finished_run("sdxl-burst-g1", "passed")], [running_run("x", 2)]):
        for condition in decide(body, runs).status["conditions"]:
            assert Reason(condition["reason"])
