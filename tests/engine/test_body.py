"""Request bodies: a body without template syntax is sent as written, the same bytes
every time, and is never rendered per request; a template is rendered per request."""

from __future__ import annotations

from herd.engine.body import BodyRenderer, RequestContext
from herd.engine.env_expansion import Redactor
from tests.conftest import run_spec


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
