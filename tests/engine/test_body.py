"""Request bodies: a body without template syntax is sent as written, the same bytes
every time, and is never rendered per request; a template is rendered per request."""

from __future__ import annotations

import json
import re
import resource
import tracemalloc

import pytest

from herd.engine.body import BodyError, BodyRenderer, RequestContext
from herd.engine.env_expansion import Redactor
from tests.conftest import run_spec
from tests.engine.test_accounting import assert_exact


def renderer(template: str | None, env: dict[str, str] | None = None) -> BodyRenderer:
    return BodyRenderer(template, env or {}, Redactor())


def test_a_body_without_template_syntax_is_fixed_and_identical_to_its_rendering():
    fixed = renderer('{"prompt": "a ${ANIMAL} in ünïcode", "n": 1}\n', {"ANIMAL": "cat"})
    assert fixed.fixed
    assert fixed.fixed_body == '{"prompt": "a cat in ünïcode", "n": 1}\n'.encode()
    for index in (0, 7):
        assert fixed.render(RequestContext(index, 3)) == fixed.fixed_body


def test_no_body_is_fixed_too():
    none = renderer(None)
    assert none.fixed and none.fixed_body is None and not none.has_body


def test_a_template_is_rendered_per_request():
    template = renderer('{"i": {{ request.index }}}')
    assert not template.fixed
    assert template.render(RequestContext(5, 0)) == b'{"i": 5}'


async def test_every_request_carries_the_fixed_body(fresh_target):
    body = '{"prompt": "the same for all"}'
    await run_spec(
        {
            "target": {"url": f"{fresh_target.url}/work", "body": body},
            "load": {"pattern": "concurrency", "concurrency": 2, "requests": 6},
        }
    )
    arrivals = fresh_target.record()
    assert len(arrivals) == 6
    assert {entry["body"] for entry in arrivals} == {body}
    assert {entry["method"] for entry in arrivals} == {"POST"}


# -- Render failures are that request's template_error, whatever raised (issue #12 item 9)

FAILS_ON_INDEX_1 = '{"i": {{ request.index }}, "n": {{ 1 // (request.index - 1) }}}'
HUGE_ON_INDEX_1 = """{"i": {{ request.index }}, "s": "{{ 'x' * 10**10 if request.index == 1 }}"}"""


@pytest.mark.parametrize("template", [FAILS_ON_INDEX_1, HUGE_ON_INDEX_1])
@pytest.mark.parametrize(
    "load",
    [
        {"pattern": "burst", "requests": 6},
        {"pattern": "concurrency", "concurrency": 1, "requests": 6},  # the loop must go on
        {"pattern": "rate", "rate": 60, "duration": "100ms"},
    ],
    ids=["burst", "concurrency", "rate"],
)
async def test_a_request_whose_render_fails_is_a_template_error_and_the_run_goes_on(
    fresh_target, load, template
):
    report = await run_spec(
        {"target": {"url": f"{fresh_target.url}/work", "body": template}, "load": load}
    )
    assert_exact(report)
    assert report.requests.planned == 6
    assert report.never_sent_reasons == {"template_error": 1}
    assert report.requests.ok == 5 == len(fresh_target.record())
    assert sorted(json.loads(a["body"])["i"] for a in fresh_target.record()) == [0, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{ range(10**9) | list | length }}", "OverflowError: Range too big"),
        ("{{ 'x' * 10**10 }}", "TemplateLimitError: the body template builds a value of"),
        ("{{ 'x' * 10000000000 }}", "TemplateLimitError: the body template builds a value of"),
        ("{{ 10 ** 100000 }}", "TemplateLimitError: the body template raises a number"),
        ("{{ 'x' | center(10000000000) }}", "TemplateLimitError: a width of 10000000000"),
        ("{{ 'x'.ljust(10000000000) }}", "TemplateLimitError: a width of 10000000000"),
        ("{{ '%10000000000d' | format(1) }}", "TemplateLimitError: a format width"),
        ("{{ '%10000000000d' % 1 }}", "TemplateLimitError: a format width"),
        ("{{ '{:>10000000000}'.format(1) }}", "TemplateLimitError: a format width"),
        ("{{ lipsum(10000000) }}", "TemplateLimitError: lipsum makes at most"),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
            "TemplateLimitError: the body template builds a value of",
        ),
        (
            "{{ range(100000) | map('center', 10000) | join }}",
            "TemplateLimitError: the body template builds more than",
        ),
        ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", "rendered body is at most"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "RecursionError"),
    ],
)
def test_a_template_cannot_take_the_runners_memory(template, reason):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(BodyError, match=re.escape(reason)):
        renderer(template).render(RequestContext(1, 0))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 300  # the bounds: 16 Mi characters a value, 64 Mi a render


def test_what_templates_normally_do_still_works():
    template = renderer(
        '{"i": {{ request.index }}, "ms": "{{ "%d" | format(1700000000000) }}", '
        '"big": "{{ "{:,}".format(10000000000) }}", "s": "{{ "ab" ~ "cd" }}", '
        '"p": {{ 2 ** 10 }}, "pad": "{{ "x" | center(5) }}", '
        '"text": {{ (lipsum(1) | length > 0) | tojson }}}'
    )
    body = json.loads(template.render(RequestContext(7, 0)))
    assert body == {
        "i": 7,
        "ms": "1700000000000",
        "big": "10,000,000,000",
        "s": "abcd",
        "p": 1024,
        "pad": "  x  ",
        "text": True,
    }


def test_a_variable_that_breaks_the_template_is_a_body_error():
    with pytest.raises(BodyError, match=r"^spec\.target\.body: template does not compile"):
        renderer('{"p": "${PROMPT}"}', {"PROMPT": "{% if %}"})


def test_failed_renders_leave_nothing_behind():
    """What a failed render built (here 16 Mi characters) goes with it, not with some
    later garbage collection: at load, such renders would pile up to gigabytes."""
    doubling = (
        "{% set ns = namespace(s='x') %}{% for i in range(60) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
    )
    template = renderer(doubling)
    tracemalloc.start()
    try:
        for _ in range(20):
            with pytest.raises(BodyError):
                template.render(RequestContext(1, 0))
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 4 * 1024**2
