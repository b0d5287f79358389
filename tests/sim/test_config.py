"""SimConfig checks its invariants and names the field; the CLI maps options onto it."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from herd.cli import sim as sim_module
from herd.cli.sim import describe_settings, sim
from herd.sim.config import SimConfig, setting_fields
from herd.sim.simulation import Simulation
from herd.sim.workers import WORKER_ID_LENGTH, WorkerIds, seeded_stream


def test_defaults_follow_runpod() -> None:
    config = SimConfig()
    assert config.max_queue_wait == 120.0
    assert config.worker_id_header == "X-Runpod-Worker-Id"
    assert (config.min_workers, config.max_workers, config.worker_concurrency) == (0, 5, 1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("service_time", -0.1),
        ("service_time", float("nan")),
        ("cold_start", -1.0),
        ("scale_check_interval", 0.0),
        ("max_queue_wait", 0.0),
        ("execution_timeout", -5.0),
        ("idle_timeout", float("inf")),
        ("service_time_jitter", 1.0),
        ("service_time_jitter", -0.1),
        ("max_workers", 0),
        ("min_workers", -1),
        ("min_workers", 6),  # above max_workers (5)
        ("worker_concurrency", 0),
        ("max_workers", 2.5),
        ("max_workers", True),
        ("record_limit", -1),
        ("worker_id_header", " "),
        ("seed", -3),
    ],
)
def test_invalid_setting_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        SimConfig(**{field: value})


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        SimConfig().max_workers = 9  # type: ignore[misc]


def test_every_field_documents_itself() -> None:
    for name, kind, help_text, _ in setting_fields():
        assert kind in {"duration", "fraction", "count", "text", "seed", "scaler"}, name
        assert help_text, name


def test_worker_ids_look_like_runpods_and_repeat_with_the_seed() -> None:
    first = WorkerIds(seeded_stream(42, "worker-ids"))
    again = WorkerIds(seeded_stream(42, "worker-ids"))
    ids = [first.next() for _ in range(50)]
    assert ids == [again.next() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(re.fullmatch(rf"[a-z0-9]{{{WORKER_ID_LENGTH}}}", worker_id) for worker_id in ids)


def test_jitter_stays_within_the_fraction_and_is_seeded() -> None:
    config = SimConfig(service_time=1.0, service_time_jitter=0.25, seed=5)
    first_draws = {Simulation(config).draw_service_time() for _ in range(3)}
    assert len(first_draws) == 1  # same seed, same draws
    simulation = Simulation(config)
    spread = [simulation.draw_service_time() for _ in range(200)]
    assert all(0.75 <= value <= 1.25 for value in spread)
    assert max(spread) - min(spread) > 0.3  # it does vary
    assert Simulation(SimConfig(service_time=0.3)).draw_service_time() == 0.3


def test_cli_reads_durations_into_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, SimConfig] = {}

    async def serve_nothing(config: SimConfig, host: str, port: int, announce: object) -> None:
        captured["config"] = config

    monkeypatch.setattr(sim_module, "serve_until_signalled", serve_nothing)
    arguments = ["--cold-start", "250ms", "--max-queue-wait", "2m", "--service-time", "1.5"]
    outcome = CliRunner().invoke(sim, [*arguments, "--max-workers", "3", "--seed", "9"])
    assert outcome.exit_code == 0, outcome.output
    config = captured["config"]
    assert (config.cold_start, config.max_queue_wait, config.service_time) == (0.25, 120.0, 1.5)
    assert (config.max_workers, config.seed, config.idle_timeout) == (3, 9, 30.0)
    assert "cold_start=250ms" in describe_settings(config)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--min-workers", "9"], "min_workers"),
        (["--cold-start", "5x"], "--cold-start"),
        (["--service-time-jitter", "1.5"], "service_time_jitter"),
    ],
)
def test_cli_rejects_bad_settings_naming_them(arguments: list[str], named: str) -> None:
    outcome = CliRunner().invoke(sim, arguments)
    assert outcome.exit_code == 2
    assert named in outcome.output
