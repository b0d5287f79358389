"""Secrets expand into requests and nowhere else."""

from __future__ import annotations

import io
import logging
import re
import sys
import threading
import warnings

import boto3
import pytest
from botocore.config import Config

from herd.demo.services import FAKE_AWS_ENV
from herd.engine.env_expansion import Redactor
from herd.engine.log_setup import THIRD_PARTY_LOGGERS, configure_logging, level_for
from herd.engine.scrub import REDACTED, scrub_credentials
from tests.engine.test_accounting import run_herd_cli

SECRET = "sk-live-0123456789abcdef-not-for-logs"


def test_header_secret_reaches_the_target_and_never_the_output(fresh_target, tmp_path):
    spec = {
        "target": {
            "url": f"{fresh_target.url}/status/401",
            "headers": {"Authorization": "Bearer ${HERD_TEST_KEY}"},
            "body": '{"key": "${HERD_TEST_KEY}"}',
        },
        "load": {"pattern": "burst", "requests": 3},
    }
    process = run_herd_cli(spec, tmp_path, "-vv", env={"HERD_TEST_KEY": SECRET})
    stdout, stderr = process.communicate(timeout=30)
    record = fresh_target.record()
    assert [entry["authorization"] for entry in record] == [f"Bearer {SECRET}"] * 3
    assert SECRET in record[0]["body"]
    report = (tmp_path / "report.json").read_text()
    for text in (stdout, stderr, report):
        assert SECRET not in text
    assert '"http_401": 3' in report


def test_missing_variable_is_an_invalid_spec_naming_the_field(fresh_target, tmp_path):
    spec = {
        "target": {
            "url": fresh_target.url,
            "headers": {"Authorization": "Bearer ${HERD_UNSET_KEY}"},
        },
        "load": {"pattern": "burst", "requests": 1},
    }
    process = run_herd_cli(spec, tmp_path)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "spec.target.headers.Authorization" in stderr
    assert "HERD_UNSET_KEY" in stderr
    assert fresh_target.record() == []


def test_redactor_scrubs_log_records():
    from herd.engine.env_expansion import expand

    redactor = Redactor()
    assert expand("Bearer ${K}", {"K": SECRET}, redactor, "f") == f"Bearer {SECRET}"
    assert expand("$${K} stays", {}, redactor, "f") == "${K} stays"
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "token %s", (SECRET,), None)
    redactor.logging_filter().filter(record)
    assert SECRET not in record.getMessage()


# -- logging: every record, its traceback and stack, every handler ----------------


@pytest.fixture
def isolated_logging():
    """Undo what ``configure_logging`` changes process-wide, after the test."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogRecordFactory())
    hooks = (sys.excepthook, threading.excepthook, warnings.showwarning)
    levels = {name: logging.getLogger(name).level for name in THIRD_PARTY_LOGGERS}
    yield
    root.handlers[:], level, factory = saved
    root.setLevel(level)
    logging.setLogRecordFactory(factory)
    sys.excepthook, threading.excepthook, warnings.showwarning = hooks
    logging.captureWarnings(False)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _capture(logger: logging.Logger, *filters: logging.Filter) -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    for each in filters:
        handler.addFilter(each)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return stream


def _fail_with_secret() -> None:
    try:
        "x".encode(SECRET)  # LookupError: unknown encoding: <the secret>
    except LookupError as error:
        raise RuntimeError("rendering failed") from error


def test_a_logged_traceback_and_stack_are_redacted_as_well_as_the_message():
    redactor = Redactor()
    redactor.add(SECRET)
    logger = logging.getLogger("herd.tests.traceback")
    output = _capture(logger, redactor.logging_filter())
    try:
        _fail_with_secret()
    except RuntimeError as error:
        logger.error("request failed: %r", error.__cause__, exc_info=True, stack_info=True)
    text = output.getvalue()
    assert SECRET not in text
    # Still a useful traceback: both exceptions, the cause's message redacted.
    assert "Traceback (most recent call last)" in text
    assert f"LookupError: unknown encoding: {REDACTED}" in text
    assert "RuntimeError: rendering failed" in text
    assert "Stack (most recent call last)" in text


def test_a_record_with_arguments_logging_cannot_format_is_redacted_too():
    redactor = Redactor()
    redactor.add(SECRET)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "%d %d", (SECRET,), None)
    redactor.logging_filter().filter(record)
    assert SECRET not in record.getMessage()


def test_every_handler_sees_redacted_records_even_one_added_later(isolated_logging, capsys):
    redactor = Redactor()
    redactor.add(SECRET)
    configure_logging(logging.DEBUG, redactor.scrub, "%(levelname)s %(name)s: %(message)s")
    # As kopf does for its Events: a handler of its own, on a logger of its own.
    later = _capture(logging.getLogger("kopf.objects.tests"))
    logging.getLogger("kopf.objects.tests").propagate = True
    try:
        _fail_with_secret()
    except RuntimeError:
        logging.getLogger("kopf.objects.tests").exception("token %s rejected", SECRET)
    stderr = capsys.readouterr().err
    for text in (later.getvalue(), stderr):
        assert SECRET not in text
        assert f"token {REDACTED} rejected" in text
        assert f"LookupError: unknown encoding: {REDACTED}" in text


def test_uncaught_exceptions_in_the_main_thread_and_others_are_redacted(isolated_logging, capsys):
    redactor = Redactor()
    redactor.add(SECRET)
    configure_logging(logging.WARNING, redactor.scrub, "%(levelname)s %(message)s")
    try:
        _fail_with_secret()
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    thread = threading.Thread(target=_fail_with_secret, name="worker-thread")
    thread.start()
    thread.join(10)
    stderr = capsys.readouterr().err
    assert SECRET not in stderr
    assert stderr.count(f"LookupError: unknown encoding: {REDACTED}") == 2
    assert "uncaught exception in thread worker-thread" in stderr


def test_third_party_debug_logging_stays_off_at_the_highest_verbosity(isolated_logging):
    configure_logging(level_for(5), Redactor().scrub, "%(message)s")
    assert logging.getLogger("herd.engine.calls").isEnabledFor(logging.DEBUG)
    for name in ("botocore.auth", "botocore.endpoint", "aiobotocore.endpoint", "urllib3"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
        assert logging.getLogger(name).isEnabledFor(logging.INFO), name
    assert not logging.getLogger("kubernetes.client.rest").isEnabledFor(logging.DEBUG)


# -- credential material recognised by its shape ------------------------------------


def test_what_botocore_logs_at_debug_is_scrubbed_of_every_credential(s3_server, bucket):
    """botocore's real debug output for an upload and a presigned URL: signed
    headers, canonical requests, signatures, the URL itself."""
    session_token = "herd-session-token-e4b1c9d27f"
    output = _capture(logging.getLogger("botocore"))
    try:
        client = boto3.client(
            "s3",
            endpoint_url=s3_server.url,
            region_name="us-east-1",
            aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=session_token,
            config=Config(signature_version="s3v4"),
        )
        client.put_object(Bucket=bucket, Key="k", Body=b"x")
        url = client.generate_presigned_url("get_object", {"Bucket": bucket, "Key": "k"})
    finally:
        logging.getLogger("botocore").handlers.clear()
        logging.getLogger("botocore").propagate = True
        logging.getLogger("botocore").setLevel(logging.NOTSET)
    raw = output.getvalue()
    signatures = set(re.findall(r"Signature[=:]\s*([0-9a-f]{64})", raw))
    assert len(signatures) >= 2, "botocore no longer logs signatures like this: check the test"
    assert FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"] in raw and session_token in raw
    scrubbed = scrub_credentials(raw + "\n" + url)
    for value in (*signatures, FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"], session_token):
        assert value not in scrubbed
    assert FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"] not in scrubbed
    assert "X-Amz-Date=" in scrubbed  # only the credential parts are gone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET http://alice:pa55word@api.local:8080/x", "GET http://<redacted>@api.local:8080/x"),
        ("target https://token@host/", "target https://<redacted>@host/"),
        ("Authorization: Bearer abc.def", "Authorization: <redacted>"),
        (
            "{'Authorization': b'AWS4 x, y', 'Host': 'h'}",
            "{'Authorization': b'<redacted>', 'Host': 'h'}",
        ),
        ('{"x-api-key": "k1k2k3", "a": 1}', '{"x-api-key": "<redacted>", "a": 1}'),
        ("Cookie: session=abc; theme=dark", "Cookie: <redacted>"),
        (
            "?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12",
            "?X-Amz-Credential=<redacted>&X-Amz-Signature=<redacted>",
        ),
        (
            "?AWSAccessKeyId=AKIAXXXXXXXXXXXXXXXX&Signature=Zm9v%3D",
            "?AWSAccessKeyId=<redacted>&Signature=<redacted>",
        ),
        ("key ASIAABCDEFGHIJKLMNOP here", "key <redacted> here"),
        # Not credentials: left as they are.
        ("spec.target.headers.Authorization: environment variable K is not set", None),
        ("SignedHeaders=host;x-amz-date", None),
        ("http://api.local:8080/x?a=1 user@example.com", None),
        ("NoCredentialsError: Unable to locate credentials", None),
    ],
)
def test_scrub_removes_credentials_and_leaves_other_text(text, expected):
    assert scrub_credentials(text) == (text if expected is None else expected)


def test_the_aws_sdks_credentials_are_secrets_though_no_spec_names_them():
    from herd.engine.run import LoadRun, RunOptions
    from tests.conftest import loadtest

    env = {
        "AWS_ACCESS_KEY_ID": "AKIAHERDUNITTEST0001",
        "AWS_SECRET_ACCESS_KEY": "herd-unit-secret-key-0123456789",
        "AWS_SESSION_TOKEN": "testing",  # a local store's: too short to be anyone's secret
    }
    spec = {"target": {"url": "http://127.0.0.1:9/"}, "load": {"pattern": "burst", "requests": 1}}
    redactor = LoadRun(loadtest(spec, name="testing"), RunOptions(env=env)).redactor
    text = " ".join(env.values())
    assert redactor(text) == f"{REDACTED} {REDACTED} testing"
