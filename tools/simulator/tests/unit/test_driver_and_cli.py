"""The driver's and the CLI's behaviour that needs no broker: signatures, errors, output."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leancrm_simulator.cli import app
from leancrm_simulator.knobs import KnobError, Knobs
from leancrm_simulator.run import DEFAULT_SPEED, ResultReader, SimulatorError, drive, encode
from leancrm_simulator.scenario import generate

runner = CliRunner()
NO_BROKER = {"LEANCRM_KAFKA_BOOTSTRAP": ""}


def test_the_launcher_can_call_drive_with_env_only() -> None:
    params = list(inspect.signature(drive).parameters.values())
    assert params[0].name == "env"
    assert all(p.default is not inspect.Parameter.empty or p.kind is p.VAR_KEYWORD
               for p in params[1:])
    assert inspect.iscoroutinefunction(drive)


def test_a_simulated_week_takes_about_a_minute_by_default() -> None:
    assert 50 <= 7 * 24 * 3600 / DEFAULT_SPEED <= 70


async def test_drive_without_a_broker_says_what_to_set() -> None:
    with pytest.raises(SimulatorError, match="LEANCRM_KAFKA_BOOTSTRAP"):
        await drive({})


async def test_drive_refuses_bad_knobs_before_connecting() -> None:
    with pytest.raises(KnobError, match="days"):
        await drive({"LEANCRM_KAFKA_BOOTSTRAP": "127.0.0.1:1"}, days=-3)
    with pytest.raises(KnobError, match="speed"):
        await drive({"LEANCRM_KAFKA_BOOTSTRAP": "127.0.0.1:1"}, speed=-1)
    with pytest.raises(KnobError, match="unknown knob"):
        await drive({"LEANCRM_KAFKA_BOOTSTRAP": "127.0.0.1:1"}, colour="red")


def test_values_are_the_envelope_as_compact_utf8_json() -> None:
    command = generate(Knobs(customers=3, days=1))[0]
    assert json.loads(encode(command)) == command.envelope
    assert b" " not in encode(command).split(b'"name"')[0]


def test_the_result_reader_keeps_the_first_result_of_each_own_command() -> None:
    reader = ResultReader("unused:1", {"a", "b"})
    for raw in (b'{"command_id": "a", "status": "accepted"}',
                b'{"command_id": "a", "status": "duplicate"}',
                b'{"command_id": "z", "status": "rejected"}',
                b"not json", None,
                b'{"command_id": "b", "status": "rejected", "error": {"code": "conflict"}}'):
        reader._take(raw)
    assert set(reader.results) == {"a", "b"}
    assert dict(reader.status) == {"accepted": 1, "rejected": 1}
    assert reader.repeated == 1


def test_cli_dry_run_prints_the_commands_and_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "commands.jsonl"
    result = runner.invoke(app, ["--dry-run", "--customers", "40", "--days", "2",
                                 "--jsonl", str(out)], env=NO_BROKER)
    assert result.exit_code == 0, result.output
    for words in ("start_interaction", "register_customer", "over-processing", "occupancy"):
        assert words in result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and {"topic", "key", "headers", "value"} == set(lines[0])


@pytest.mark.parametrize(("args", "words"), [
    (["--days", "-1"], "days"),
    (["--fcr", "2"], "fcr"),
    (["--start", "soon"], "YYYY-MM-DD"),
    (["--speed", "-5"], "speed"),
])
def test_cli_bad_input_exits_2_naming_the_option(args: list[str], words: str) -> None:
    result = runner.invoke(app, [*args, "--dry-run"], env=NO_BROKER)
    assert result.exit_code == 2
    assert words in result.output


def test_cli_without_a_broker_says_what_to_set() -> None:
    result = runner.invoke(app, ["--customers", "5", "--days", "1"], env=NO_BROKER)
    assert result.exit_code == 2
    assert "LEANCRM_KAFKA_BOOTSTRAP" in result.output and "--bootstrap" in result.output
