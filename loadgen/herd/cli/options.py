"""Options several ``herd`` commands share, written once."""

from __future__ import annotations

import click

verbose_option = click.option(
    "-v",
    "--verbose",
    count=True,
    help="More log output (-v info, -vv debug; the AWS and Kubernetes clients stay at info: "
    "their debug output carries credentials).",
)
