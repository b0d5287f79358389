"""Property-based fuzzing of the spec loader (issue #12 guard rail): whatever a file
holds, herd answers with a LoadTest or with one line per problem, never a traceback.

Deterministic (``derandomize``, no example database) and bounded in examples, so the
same inputs run everywhere in about ten seconds. To hunt further:
``HERD_FUZZ_RANDOM=1 HERD_FUZZ_EXAMPLES=20000 pytest tests/api/test_fuzz.py``.
"""

from __future__ import annotations

import copy
import math
import os
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from herd.api.loading import SpecError, loads_loadtest, parse_loadtest
from herd.cli.main import cli
from herd.engine.errors import ConfigError
from herd.engine.run import LoadRun, RunOptions

FUZZ = settings(
    derandomize=not os.environ.get("HERD_FUZZ_RANDOM"),
    database=None,
    deadline=None,
    max_examples=int(os.environ.get("HERD_FUZZ_EXAMPLES", "1000")),
    suppress_health_check=[HealthCheck.too_slow],
)

VALID: dict[str, Any] = {
    "apiVersion": "herd.dev/v1alpha1",
    "kind": "LoadTest",
    "metadata": {"name": "fuzz"},
    "spec": {
        "target": {
            "url": "http://127.0.0.1:9/v2/${ENDPOINT}/run",
            "method": "POST",
            "headers": {"Authorization": "Bearer ${KEY}"},
            "body": '{"i": {{ request.index }}, "u": {{ uploads | map(attribute="url") | list }}}',
            "timeout": "30s",
            "workerId": {"jsonPath": "$.workerId"},
        },
        "uploads": {
            "bucket": "bkt",
            "perRequest": 2,
            "source": {"synthetic": {"sizeBytes": 1024}},
            "mode": "inline",
        },
        "load": {"pattern": "rate", "rate": 5, "duration": "2s", "maxInFlight": 10},
        "scalingProbe": {"url": "http://127.0.0.1:9/health", "interval": "1s"},
        "thresholds": ["p95 < 2s", "error_rate < 1%", "workers >= 1"],
        "parallelism": 2,
    },
}
ENV = {"ENDPOINT": "abc", "KEY": "k" * 16}

# What YAML can say: scalars of every type (NaN and infinities too), lists and maps.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        ["", "0", "1s", "-1s", "1e400", "true", "${X}", "[/]", "{{", "http://@", "\r\n"]
    ),
)
# Values that fit some field of a LoadTest, so that many changed specs stay valid and
# go on to the checks a run makes before sending anything.
plausible = st.sampled_from(
    [
        0, 1, 2, 3, 7, 0.5, 0.0004, 1e-9, True, False, None,
        "1ms", "250ms", "0.0004s", "1.0005s", "2m", "168h",
        "GET", "POST", "burst", "concurrency", "rate", "inline", "prestage", "s3uri",
        "{{ request.index }}", "{{ 1 // request.index }}", "{{ uploads[0].url }}", "{% if %}",
        "${ENDPOINT}", "${MISSING}", "$${LITERAL}", "http://127.0.0.1:9/${KEY}",
        "http://127.0.0.1:9/x", "p99 < 1s", "ok >= 1", "X-Header", "$.id", "$[",
    ]
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def assert_explained(error: SpecError) -> None:
    assert error.problems, "a SpecError with no problem"
    for problem in error.problems:
        assert isinstance(problem, str) and problem.strip()
        assert "\n" not in problem, problem


def load_or_explain(data: bytes | str) -> None:
    try:
        loads_loadtest(data, "fuzz.yaml")
    except SpecError as error:
        assert_explained(error)


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_load_or_say_why(data: bytes):
    load_or_explain(data)


@FUZZ
@given(st.text(max_size=400))
def test_any_text_loads_or_says_why(text: str):
    load_or_explain(text)


@FUZZ
@given(values)
def test_any_yaml_document_loads_or_says_why(document: Any):
    load_or_explain(yaml.safe_dump(document, allow_unicode=True))


# -- Near-valid specs: one field of a valid spec changed, added or removed ---------------


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += paths(child, (*prefix, index))
    return found


ALL_PATHS = [path for path in paths(VALID) if path]


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(ALL_PATHS))
        parent: Any = document
        try:
            for part in path[:-1]:
                parent = parent[part]
            key = path[-1]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "delete" and isinstance(parent, dict):
                parent.pop(key, None)
            elif action == "add" and isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
            else:
                parent[key] = draw(plausible | values)
        except (KeyError, IndexError, TypeError):  # an earlier change removed the way there
            continue
    return document


@FUZZ
@given(mutated())
def test_a_changed_valid_spec_validates_checks_and_round_trips_or_says_why(document):
    try:
        loadtest = parse_loadtest(document)
    except SpecError as error:
        assert_explained(error)
        return
    # Valid: what a run checks before any traffic (expansion, sample render, files) either
    # passes or is a ConfigError naming its field, and never anything else.
    try:
        LoadRun(loadtest, RunOptions(env=ENV, handle_signals=False)).check()
    except ConfigError as error:
        assert "spec." in str(error), error  # it names the field
        assert "\n" not in str(error)
    # The operator hands runners the spec as JSON, multi-process runs as a Python dump:
    # both must validate again, to the same spec.
    assert parse_loadtest(loadtest.model_dump(mode="json", by_alias=True)).spec == loadtest.spec
    assert parse_loadtest(loadtest.model_dump(by_alias=True)).spec == loadtest.spec


def _has_nan(node: Any) -> bool:
    if isinstance(node, float):
        return math.isnan(node)
    if isinstance(node, dict):
        return any(_has_nan(k) or _has_nan(v) for k, v in node.items())
    if isinstance(node, list):
        return any(_has_nan(v) for v in node)
    return False


@settings(FUZZ, max_examples=50)
@given(mutated())
def test_herd_run_of_an_invalid_file_exits_2_with_one_line_per_problem(tmp_path_factory, document):
    try:
        parse_loadtest(document)
    except SpecError as error:
        expected = [f"invalid LoadTest: {problem}" for problem in error.problems]
    else:
        assume(False)  # a valid spec would start a run
    path = tmp_path_factory.mktemp("fuzz") / "lt.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    result = CliRunner().invoke(cli, ["run", str(path), "-q"])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    if not _has_nan(document):  # NaN != NaN: the re-read file may word it differently
        assert result.stderr.splitlines() == expected


@settings(FUZZ, max_examples=30)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_herd_run_of_any_bytes_exits_2_with_one_line_per_problem(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "lt.yaml"
    path.write_bytes(data)
    result = CliRunner().invoke(cli, ["run", str(path), "-q"])
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("invalid LoadTest: ") for line in lines), lines
