"""Values that used to be accepted but were wrong (issue #12 items 12, 13): each is
refused at validation, with the field it is about named in the message."""

from __future__ import annotations

import pytest

from tests.api.test_spec import EXAMPLE, problems, with_spec

TARGET = {"url": "https://example.invalid/generate", "body": "{}"}
BURST = {"pattern": "burst", "requests": 3}


def with_target(**changes):
    return with_spec(target={**TARGET, **changes})


def with_load(**changes):
    return with_spec(load={**BURST, **changes})


def with_probe(**changes):
    return with_spec(scalingProbe={"url": "https://example.invalid/health", **changes})


# -- URLs: what aiohttp (yarl) would refuse is refused here --------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://@", "host is required"),
        ("http://127.0.0.1:99999/x", "Port out of range"),
        ("http://[::1/x", "Invalid IPv6 URL"),
        ("http://127.0.0.1:0/x", "port must be from 1 to 65535"),
        ("http://exa mple/x", "must not contain spaces"),
        ("http://example/a\r\nX-Injected: 1", "control characters"),
        ("ftp://example/x", "http:// or https://"),
        ("http:///x", "must name a host"),
    ],
)
def test_urls_the_http_client_would_refuse_are_invalid(url, reason):
    found = problems(with_target(url=url))
    assert len(found) == 1 and found[0].startswith("spec.target.url: "), found
    assert reason in found[0]


@pytest.mark.parametrize("url", ["http://user:secret@example/x", "http://user@example/x"])
def test_credentials_in_a_url_are_refused_with_a_hint_and_never_echoed(url):
    for document, field in (
        (with_target(url=url), "spec.target.url"),
        (with_probe(url=url), "spec.scalingProbe.url"),
        (
            with_spec(
                uploads={
                    "endpoint": url,
                    "bucket": "bkt",
                    "source": {"synthetic": {"sizeBytes": 1}},
                }
            ),
            "spec.uploads.endpoint",
        ),
    ):
        found = problems(document)
        assert len(found) == 1 and found[0].startswith(f"{field}: must not carry credentials")
        assert "header" in found[0]
        assert "secret" not in found[0]


@pytest.mark.parametrize(
    "url",
    [
        "http://${HOST}/x",
        "http://example:${PORT}/x",
        "https://${HOST}:${PORT}/v2/${ID}/run",
        "https://example/$${LITERAL}",
        "HTTP://Example/x",
    ],
)
def test_urls_with_variables_are_checked_around_them(url):
    from herd.api.loading import parse_loadtest

    assert parse_loadtest(with_target(url=url)).spec.target.url == url


# -- Headers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("X-Ok", "a\r\nX-Injected: 1", "must not contain CR, LF"),
        ("X-Ok", "a\nb", "must not contain CR, LF"),
        ("X-Ok", "a\x00b", "must not contain CR, LF"),
        ("", "v", "not a valid header name"),
        ("X Bad", "v", "not a valid header name"),
        ("X:Bad", "v", "not a valid header name"),
    ],
)
def test_bad_headers_are_refused_in_every_headers_map(name, value, reason):
    for document, field in (
        (with_target(headers={name: value}), "spec.target.headers"),
        (with_probe(headers={name: value}), "spec.scalingProbe.headers"),
    ):
        found = problems(document)
        shown = f"{field}.{name}" if name else f"{field}['']"
        assert found == [f"{shown}: " + found[0].split(": ", 1)[1]], found
        assert reason in found[0]


def test_a_header_name_with_dots_is_named_whole():
    assert problems(with_target(headers={"x.trace": "a\rb"}))[0].startswith(
        "spec.target.headers.x.trace: must not contain CR, LF"
    )


def test_tabs_and_unicode_in_header_values_are_fine():
    from herd.api.loading import parse_loadtest

    spec = parse_loadtest(with_target(headers={"X-Tab": "a\tb", "X-Text": "ünïcode"})).spec
    assert spec.target.headers == {"X-Tab": "a\tb", "X-Text": "ünïcode"}


# -- Types YAML would let pydantic coerce ------------------------------------------------


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (with_load(requests=True), "spec.load.requests"),
        (with_load(requests="5"), "spec.load.requests"),
        (with_load(requests=5.0), "spec.load.requests"),
        (with_load(preconnect="false"), "spec.load.preconnect"),
        (with_load(preconnect=0), "spec.load.preconnect"),
        (
            with_spec(load={"pattern": "rate", "rate": True, "duration": "1s"}),
            "spec.load.rate",
        ),
        (with_spec(parallelism=True), "spec.parallelism"),
        (
            with_spec(
                uploads={
                    "bucket": "bkt",
                    "cleanup": "no",
                    "source": {"synthetic": {"sizeBytes": 1}},
                }
            ),
            "spec.uploads.cleanup",
        ),
    ],
)
def test_booleans_strings_and_fractions_are_not_numbers_or_flags(document, field):
    found = problems(document)
    assert len(found) == 1 and found[0].startswith(f"{field}: "), found


# -- Durations: finite and bounded, so no timeout or hard stop can be removed --------------


@pytest.mark.parametrize("value", [float("inf"), float("nan"), "1000000000000000h", "169h", 1e12])
@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("target", "timeout"),
        ("target", "connectTimeout"),
        ("target", "poolTimeout"),
        ("load", "maxDuration"),
        ("load", "drainTimeout"),
    ],
)
def test_durations_are_finite_and_at_most_a_week(where, field, value):
    document = with_target(**{field: value}) if where == "target" else with_load(**{field: value})
    found = problems(document)
    assert len(found) == 1 and found[0].startswith(f"spec.{where}.{field}: duration must be")


def test_a_week_is_still_a_duration():
    from herd.api.loading import parse_loadtest

    assert parse_loadtest(with_load(maxDuration="168h")).spec.load.max_duration == 7 * 24 * 3600


# -- Thresholds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("error_rate < 200%", "from 0% to 100%"),
        ("error_rate < -1%", "from 0% to 100%"),
        ("error_rate < 2", "from 0% to 100%"),
        ("throughput > nan", "not a finite number"),
        ("ok > inf", "not a finite number"),
        ("errors < -1", "never negative"),
        ("p95 < .inf", "invalid duration"),
        ("p95 < 1000000000000000h", "at most 168h"),
    ],
)
def test_thresholds_that_cannot_mean_anything_are_refused(expr, reason):
    found = problems(with_spec(thresholds=[expr]))
    assert len(found) == 1 and found[0].startswith("spec.thresholds[0]: "), found
    assert reason in found[0]


def test_the_example_is_still_valid():
    from herd.api.loading import parse_loadtest

    parse_loadtest(EXAMPLE)


@pytest.mark.parametrize("seconds", [0.0004, 1.0005, 1234.567, 1e-9, 3600.5, 90, 0.25])
def test_a_duration_written_back_reads_as_the_same_value(seconds):
    """The operator hands runners the spec as text: ``0.0004`` must not come back as
    ``0ms`` (invalid where more than 0 is needed) nor ``1234.567`` as ``1234.57s``."""
    from herd.api.durations import format_duration, parse_duration

    assert parse_duration(format_duration(seconds)) == seconds
