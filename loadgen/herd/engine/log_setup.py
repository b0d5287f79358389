"""Logging for every herd process (``herd run``, its ``--processes`` children, the
operator): one stderr handler, and no secret in any record, at any verbosity.

Records are redacted when they are made (a record factory) as well as by a filter on
the handler, so every handler sees redacted records, including those libraries add
later (kopf posts its object logs as Kubernetes Events through a handler of its
own). Redacting a record covers its traceback and stack too: formatting would
otherwise print ``exc_info`` as it is, and a traceback's last line holds the
exception's message. The SDKs' debug output is never turned on: botocore logs signed
headers and presigned URLs at DEBUG, the Kubernetes client whole response bodies.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

Redact = Callable[[str], str]

THIRD_PARTY_LOGGERS = ("botocore", "aiobotocore", "boto3", "s3transfer", "urllib3", "kubernetes")
"""Loggers kept at INFO or above whatever the verbosity: their DEBUG carries credentials."""

_log = logging.getLogger("herd")


def level_for(verbose: int) -> int:
    """``-v`` count to a level: none WARNING, ``-v`` INFO, ``-vv`` DEBUG."""
    return logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG


def redact_record(record: logging.LogRecord, redact: Redact) -> None:
    """Redact what a handler could print of ``record``: its message, its traceback
    (formatted now, kept as ``exc_text``; ``exc_info`` is cleared) and its stack."""
    try:
        message = record.getMessage()
    except Exception:  # logging's own error report would print the arguments as they are
        message = f"{record.msg} {record.args!r}"
    record.msg, record.args = redact(message), ()
    if record.exc_info:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """A handler filter that redacts every record it passes (and drops none)."""

    def __init__(self, redact: Redact) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record, self.redact)
        return True


class _RedactingRecordFactory:
    def __init__(self, make: Callable[..., logging.LogRecord], redact: Redact) -> None:
        self.make = make
        self.redact = redact

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.make(*args, **kwargs)
        redact_record(record, self.redact)
        return record


def configure_logging(level: int, redact: Redact, format: str) -> None:
    """Log to stderr at ``level``, every record redacted by ``redact``; uncaught
    exceptions and warnings go through logging, so they are redacted too."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter(redact))
    handler.setFormatter(logging.Formatter(format))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    factory = logging.getLogRecordFactory()
    if isinstance(factory, _RedactingRecordFactory):  # configured before: the newest wins
        factory.redact = redact
    else:
        logging.setLogRecordFactory(_RedactingRecordFactory(factory, redact))
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    _log.critical("uncaught exception", exc_info=(kind, error, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:  # as the default hook: a thread's exit is no error
        return
    name = args.thread.name if args.thread is not None else "?"
    exc_info = (args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback)
    _log.critical("uncaught exception in thread %s", name, exc_info=exc_info)
