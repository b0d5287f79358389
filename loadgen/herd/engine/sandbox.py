"""The Jinja2 sandbox body templates run in, with the memory a render may take bounded.

Jinja's sandbox keeps templates from reaching Python internals, not from building
huge values: ``{{ 'x' * 10**10 }}`` or a ``namespace`` string doubled in a loop would
take the runner's memory (and the pod with it) on one request. Here every operation
that can grow a value is checked before it allocates, and charged against a budget
for the whole render: binary operators, ``~``, string formatting, filters, method
and global calls. Going over fails that one render with ``TemplateLimitError`` (a
``template_error`` for that request); the runner goes on.

What is not bounded: CPU. A template that loops 10^10 times without producing
anything keeps the event loop busy; the sandbox cannot interrupt Python code.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.nodes import Concat
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

MAX_VALUE_CHARS = 16 * 1024**2
"""The longest string (or the most items in a list) one operation may build."""
MAX_RENDER_CHARS = 64 * 1024**2
"""What one render may build in all, intermediate values included."""
_MAX_INT_BITS = 1 << 16  # ~20,000 digits: far beyond arithmetic, far below a slow one
_MAX_LOREM_PARAGRAPHS = 1000


class TemplateLimitError(SecurityError):
    """A render tried to build more than a body template may."""


_budget: ContextVar[list[int] | None] = ContextVar("herd_template_budget", default=None)


class RenderBudget:
    """What the render in this context may still build (``with RenderBudget(): ...``)."""

    def __init__(self, chars: int = MAX_RENDER_CHARS):
        self._chars = chars
        self._token: Any = None

    def __enter__(self) -> RenderBudget:
        self._token = _budget.set([self._chars])
        return self

    def __exit__(self, *exc_info: object) -> None:
        _budget.reset(self._token)


def _charge(size: int) -> None:
    if size > MAX_VALUE_CHARS:
        raise TemplateLimitError(
            f"the body template builds a value of {size} characters or items "
            f"(at most {MAX_VALUE_CHARS})"
        )
    remaining = _budget.get()
    if remaining is None:  # rendered outside a budget (compile-time folding): per value only
        return
    remaining[0] -= size
    if remaining[0] < 0:
        raise TemplateLimitError(
            f"the body template builds more than {MAX_RENDER_CHARS} characters in one render"
        )


def _weight(value: object, limit: int = MAX_VALUE_CHARS + 1) -> int:
    """Characters and items in ``value``, counting shared parts each time they appear
    (as printing it would); stops counting past ``limit``."""
    total, pending = 0, [value]
    while pending and total <= limit:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            pending.extend(item)
        elif isinstance(item, dict):
            total += len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        else:
            total += 1
    return total


def _charge_result(value: object) -> object:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        _charge(_weight(value))
    return value


def _check_int(value: object, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_VALUE_CHARS:
        raise TemplateLimitError(f"{what} {value} is larger than a body template may use")


# %-format specifiers: width and precision are the parts that can make a string large.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent_format(text: str, args: object) -> None:
    star = False
    for width, precision in _PERCENT_SPEC.findall(text):
        for number in (width, precision):
            if number == "*":
                star = True
            elif number:
                _check_int(int(number), "a format width of")
    if star:
        for arg in args if isinstance(args, tuple) else (args,):
            _check_int(arg, "a format width of")


def _check_brace_format(text: str, args: Iterable[object]) -> None:
    for _, _, spec, _ in string.Formatter().parse(text):
        if not spec:
            continue
        for number in re.findall(r"\d+", spec):
            _check_int(int(number), "a format width of")
        if "{" in spec:  # a nested width comes from the arguments
            for arg in args:
                _check_int(arg, "a format width of")


def _replaced_size(text: str, old: str, new: str) -> int:
    occurrences = len(text) + 1 if old == "" else text.count(old)
    return len(text) + occurrences * (len(new) - len(old))


def _joined_size(items: object, separator: str) -> int | None:
    if isinstance(items, list | tuple):
        return _weight(items) + len(separator) * max(0, len(items) - 1)
    return None


_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})


def _check_call(function: object, args: tuple[Any, ...]) -> None:
    """Refuse, before it runs, a string method call that would build a huge value."""
    owner = getattr(function, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(function, "__name__", "")
    if name in _WIDTH_METHODS and args:
        _check_int(args[0], "a width of")
    elif name == "replace" and len(args) >= 2:
        if isinstance(args[0], str) and isinstance(args[1], str):
            _charge(_replaced_size(owner, args[0], args[1]))
    elif name == "expandtabs":
        size = args[0] if args and isinstance(args[0], int) else 8
        _check_int(size, "a tab size of")
        _charge(len(owner) + owner.count("\t") * max(0, size))
    elif name == "join" and args:
        expected = _joined_size(args[0], owner)
        if expected is not None:
            _charge(expected)


def _bounded_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        return _charge_result(function(*args, **kwargs))

    # Keep Jinja's pass_context / pass_eval_context / pass_environment markers.
    bounded.__dict__.update(getattr(function, "__dict__", {}))
    bounded.__name__ = getattr(function, "__name__", "filter")
    return bounded


def _sized_filter(
    function: Callable[..., Any], size: Callable[..., int | None]
) -> Callable[..., Any]:
    """A filter whose result size ``size(*args)`` can tell before it runs."""

    def checked(*args: Any, **kwargs: Any) -> Any:
        expected = size(*args, **kwargs)
        if expected is not None:
            _charge(expected)
        return function(*args, **kwargs)

    checked.__dict__.update(getattr(function, "__dict__", {}))
    return _bounded_filter(checked)


def _center_size(value: Any, width: Any = 80, *_: Any, **__: Any) -> int | None:
    _check_int(width, "a width of")
    return max(len(str(value)), width) if isinstance(width, int) else None


def _indent_size(value: Any, width: Any = 4, *_: Any, **__: Any) -> int | None:
    text = str(value)
    _check_int(width, "a width of")
    pad = width if isinstance(width, int) else len(str(width))
    return len(text) + (text.count("\n") + 1) * max(0, pad)


def _join_size(_: Any, value: Any, separator: Any = "", *__: Any, **___: Any) -> int | None:
    return _joined_size(value, str(separator))


def _replace_size(_: Any, value: Any, old: Any, new: Any, *__: Any, **___: Any) -> int | None:
    return _replaced_size(str(value), str(old), str(new))


def _format_size(value: Any, *args: Any, **kwargs: Any) -> int | None:
    _check_percent_format(str(value), kwargs or args)
    return None


def _lorem(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > _MAX_LOREM_PARAGRAPHS or max > 1000:
        raise TemplateLimitError(
            f"lipsum makes at most {_MAX_LOREM_PARAGRAPHS} paragraphs of 1000 words"
        )
    return generate_lorem_ipsum(n, html, min, max)


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        # ``a ~ b`` joins through the environment, where its size is charged.
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with every way to build a value bounded."""

    intercepted_binops = frozenset({"+", "*", "**", "%"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        sizes: dict[str, Callable[..., int | None]] = {
            "center": _center_size,
            "indent": _indent_size,
            "replace": _replace_size,
            "format": _format_size,
            "join": _join_size,
        }
        self.filters = {
            name: _sized_filter(function, sizes[name])
            if name in sizes
            else _bounded_filter(function)
            for name, function in self.filters.items()
        }
        self.globals["lipsum"] = _lorem

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            self._check_repeat(left, right)
        elif operator == "**":
            self._check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left, right)
        return _charge_result(super().call_binop(context, operator, left, right))

    # The odd names keep a template's own keyword arguments (self=, context=) apart.
    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_call(__obj, args)
        return _charge_result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        text = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            _check_brace_format(text, (*args, *kwargs.values()))
            result = formatter(*args, **kwargs)
            _charge(len(result))
            return result

        return bounded

    def bounded_concat(self, values: Iterable[Any]) -> str:
        parts = [str(value) for value in values]
        _charge(sum(len(part) for part in parts))
        return "".join(parts)

    @staticmethod
    def _check_repeat(left: Any, right: Any) -> None:
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > _MAX_INT_BITS:
                raise TemplateLimitError("the body template multiplies numbers too large")
            return
        sequence, count = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(count, int) and isinstance(sequence, str | bytes | list | tuple):
            _charge(_weight(sequence) * max(0, count))

    @staticmethod
    def _check_power(base: Any, exponent: Any) -> None:
        if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
            if base.bit_length() * exponent > _MAX_INT_BITS:
                raise TemplateLimitError("the body template raises a number to too large a power")
