"""Errors that stop a run before or instead of sending load.

RunError
├── ConfigError   the spec or environment is wrong for this run  (exit 2)
└── SetupError    the run could not start here                   (exit 3)
"""

from herd.api.exits import ExitCode


class RunError(Exception):
    exit_code = ExitCode.NOT_RUN


class ConfigError(RunError):
    """Names the field (``spec.target.headers.Authorization``) and what is wrong."""

    exit_code = ExitCode.INVALID


class SetupError(RunError):
    exit_code = ExitCode.NOT_RUN
