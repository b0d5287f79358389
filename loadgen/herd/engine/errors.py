"""Errors that stop a run before or instead of sending load.

RunError
├── ConfigError   the spec or environment is wrong for this run  (exit 2)
└── SetupError    the run could not start here                   (exit 3)
"""


class RunError(Exception):
    exit_code = 3


class ConfigError(RunError):
    """Names the field (``spec.target.headers.Authorization``) and what is wrong."""

    exit_code = 2


class SetupError(RunError):
    exit_code = 3
