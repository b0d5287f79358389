"""``herd sim``: serve a simulated autoscaling endpoint (see ``herd.sim``) until interrupted.

One option per ``SimConfig`` field, generated from the field metadata, so the CLI cannot drift
from the settings it fills in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import click

from herd.api.durations import format_duration, parse_duration
from herd.sim.config import SCALERS, SimConfig, setting_fields
from herd.sim.server import SimServer, serve_until_signalled


class DurationType(click.ParamType[float]):
    """150s, 2m, 250ms, 1h30m, or plain seconds."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_duration(_plain_seconds(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


def _plain_seconds(text: str) -> str | float:
    """Plain numbers on the command line are seconds (``--cold-start 2.5``)."""
    try:
        return float(text)
    except ValueError:
        return text


_TYPES: dict[str, click.ParamType[Any]] = {
    "duration": DurationType(),
    "fraction": click.FLOAT,
    "count": click.INT,
    "seed": click.INT,
    "text": click.STRING,
    "scaler": click.Choice(SCALERS),
}  # SimConfig checks the ranges; its errors name the field


def _setting_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for name, kind, help_text, default in reversed(setting_fields()):
        if kind == "duration":
            default = format_duration(default)  # shown as typed; converted like user input
        option = click.option(
            f"--{name.replace('_', '-')}",
            name,
            type=_TYPES[kind],
            default=default,
            show_default=default is not None,
            help=help_text,
        )
        command = option(command)
    return command


def describe_settings(config: SimConfig) -> str:
    kinds = {name: kind for name, kind, _, _ in setting_fields()}
    parts = []
    for field in fields(config):
        value = getattr(config, field.name)
        shown = format_duration(value) if kinds[field.name] == "duration" else value
        parts.append(f"{field.name}={shown}")
    return " ".join(parts)


@click.command("sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@_setting_options
def sim(host: str, port: int, **settings: Any) -> None:
    """Serve a simulated autoscaling serverless endpoint (RunPod semantics) to rehearse a test.

    Requests queue FIFO; workers cold-start, scale up when requests wait, and stop when idle.
    GET /health answers like RunPod; GET /_sim/record shows what really happened.
    Runs until SIGINT or SIGTERM.
    """
    try:
        config = SimConfig(**settings)
    except ValueError as error:
        raise click.UsageError(str(error)) from None

    def announce(server: SimServer) -> None:
        click.echo(f"herd sim listening on {server.url} ({describe_settings(config)})")

    try:
        asyncio.run(serve_until_signalled(config, host, port, announce))
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
