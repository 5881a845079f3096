"""Knobs: defaults, validation with clear words, namespaces, options from the environment."""

from __future__ import annotations

from datetime import date

import pytest

from leancrm_simulator.knobs import DEFAULT_START, KnobError, Knobs
from leancrm_simulator.run import options_from_env


def test_defaults_are_a_short_week_a_few_hundred_customers_and_about_twenty_agents() -> None:
    k = Knobs().validate()
    assert k.days == 7 and k.start == DEFAULT_START and DEFAULT_START.weekday() == 0
    assert 100 <= k.customers <= 999
    assert 15 <= 5 * k.agents_per_team <= 25


@pytest.mark.parametrize(("changes", "knob", "words"), [
    ({"days": -1}, "days", "between 1 and 366"),
    ({"days": 0}, "days", "between 1 and 366"),
    ({"customers": 0}, "customers", "between 1"),
    ({"fcr": 1.5}, "fcr", "between 0 and 1"),
    ({"reidentify": -0.1}, "reidentify", "between 0 and 1"),
    ({"staffing": 0}, "staffing", "more than 0"),
    ({"agents_per_team": 0}, "agents_per_team", "between 1 and 200"),
    ({"contact_rate": -2}, "contact_rate", "between 0 and 50"),
    ({"seed": -1}, "seed", "0 or more"),
])
def test_bad_values_name_the_knob_and_the_range(changes: dict[str, object], knob: str,
                                                words: str) -> None:
    with pytest.raises(KnobError) as err:
        Knobs.from_options(**changes)
    assert err.value.knob == knob
    assert knob in str(err.value) and words in str(err.value)


def test_unknown_knobs_and_bad_dates_are_refused() -> None:
    with pytest.raises(KnobError, match=r"unknown knob.*colour.*known: seed"):
        Knobs.from_options(colour="red")
    with pytest.raises(KnobError, match="YYYY-MM-DD"):
        Knobs.from_options(start="next monday")
    assert Knobs.from_options(start="2027-01-04").start == date(2027, 1, 4)


def test_the_namespace_follows_seed_and_knobs() -> None:
    assert Knobs().namespace() == Knobs().namespace()
    assert Knobs(seed=1).namespace() != Knobs(seed=2).namespace()
    assert Knobs(fcr=0.5).namespace() != Knobs(fcr=0.6).namespace()


def test_options_come_from_leancrm_sim_variables() -> None:
    env = {"LEANCRM_SIM_DAYS": "3", "LEANCRM_SIM_SPEED": "0", "LEANCRM_SIM_FCR": "0.5",
           "LEANCRM_SIM_START": "2027-01-04", "LEANCRM_SIM_WAIT_FOR_RESULTS": "no",
           "LEANCRM_KAFKA_BOOTSTRAP": "x:1", "LEANCRM_SIM_SEED": ""}
    assert options_from_env(env) == {"days": 3, "speed": 0.0, "fcr": 0.5,
                                     "start": "2027-01-04", "wait_for_results": False}
    with pytest.raises(KnobError, match="LEANCRM_SIM_DAYS='many'"):
        options_from_env({"LEANCRM_SIM_DAYS": "many"})
