"""A ``LEANCRM_*`` variable nothing reads is named at start-up with the closest known
one; the variables of other services and of the tools are not."""

from __future__ import annotations

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from structlog.testing import capture_logs

from leancrm_servicekit.environment import (
    check_environment,
    known_variables,
    settings_classes,
    unknown_variables,
    variables_of,
)
from leancrm_servicekit.settings import ConfigurationError, ServiceSettings


def test_a_misspelt_variable_is_named_with_the_closest_known_one() -> None:
    env = {"LEANCRM_KAFKA_SECURITY_PROTCOL": "SASL_SSL", "LEANCRM_KAFKA_BOOTSTRAP": "k:9092",
           "PATH": "/bin"}
    (unknown,) = unknown_variables(env, known_variables())
    assert (unknown.name, unknown.closest) == ("LEANCRM_KAFKA_SECURITY_PROTCOL",
                                               "LEANCRM_KAFKA_SECURITY_PROTOCOL")
    assert "did you mean LEANCRM_KAFKA_SECURITY_PROTOCOL?" in str(unknown)


def test_a_name_close_to_nothing_has_no_suggestion() -> None:
    (unknown,) = unknown_variables({"LEANCRM_ZZZ": "1"}, known_variables())
    assert unknown.closest is None


def test_settings_are_case_insensitive_and_so_is_the_check() -> None:
    assert unknown_variables({"leancrm_kafka_bootstrap": "k:9092"}, known_variables()) == []


def test_every_installed_services_settings_are_known() -> None:
    """The waste projector's variables, in a ConfigMap every service reads, are no typo
    in the customers service: the settings of every installed service are loaded."""
    names = {cls.__name__ for cls in settings_classes()}
    assert {"ServiceSettings", "WasteSettings", "CostSettings", "BusinessTimeSettings"} <= names
    known = known_variables()
    assert {"LEANCRM_TARGET_OCCUPANCY", "LEANCRM_WASTE_COST_SECONDS", "LEANCRM_PROJECTOR_CONCURRENCY",
            "LEANCRM_KAFKA_SASL_PASSWORD_FILE", "LEANCRM_UNKNOWN_VARIABLES",
            "LEANCRM_BUSINESS_TIMEZONE"} <= known


def test_the_tools_and_the_deployments_variables_are_not_flagged() -> None:
    env = {name: "x" for name in (
        "LEANCRM_SIM_DAYS", "LEANCRM_SIM_ANYTHING_NEW", "LEANCRM_CHAOS_SEED", "LEANCRM_TEST_OPS_DSN",
        "LEANCRM_TEST_TESTCONTAINERS", "LEANCRM_INIT_SQL", "LEANCRM_SERVICE", "LEANCRM_DASHBOARD_SCREENSHOT",
        "LEANCRM_CHROMIUM", "LEANCRM_HOME", "LEANCRM_WASTE_DB_PASSWORD", "LEANCRM_OPS_DB_PASSWORD",
        "LEANCRM_DB", "LEANCRM_IMAGE")}
    assert unknown_variables(env, known_variables()) == []


class _Later(BaseSettings):
    """Settings another engineer adds in a class of their own: derived, not listed."""

    model_config = SettingsConfigDict(env_prefix="LEANCRM_", extra="ignore")
    api_tokens_file: str | None = None
    metrics_require_token: bool = Field(default=False)


def test_a_new_settings_class_is_known_without_listing_it() -> None:
    assert {"LEANCRM_API_TOKENS_FILE", "LEANCRM_METRICS_REQUIRE_TOKEN"} <= variables_of(_Later)
    env = {"LEANCRM_API_TOKENS_FILE": "/run/secrets/tokens", "LEANCRM_METRICS_REQUIRE_TOKEN": "true"}
    assert unknown_variables(env, known_variables()) == []


def test_unknown_variables_are_warned_about_by_default() -> None:
    with capture_logs() as logs:
        found = check_environment(ServiceSettings(), {"LEANCRM_KAFKA_SSL_CA_FILE": "/ca.pem"})
    assert [u.name for u in found] == ["LEANCRM_KAFKA_SSL_CA_FILE"]
    (entry,) = [e for e in logs if e["event"] == "unknown_variable"]
    assert entry["log_level"] == "warning"
    assert (entry["variable"], entry["did_you_mean"]) == ("LEANCRM_KAFKA_SSL_CA_FILE",
                                                          "LEANCRM_KAFKA_SSL_CAFILE")


def test_unknown_variables_stop_the_start_when_asked() -> None:
    strict = ServiceSettings(unknown_variables="fail")
    with pytest.raises(ConfigurationError) as caught:
        check_environment(strict, {"LEANCRM_KAFKA_SASL_USER": "u", "LEANCRM_PARTITION": "3"})
    message = str(caught.value)
    assert "LEANCRM_KAFKA_SASL_USER is not read" in message and "LEANCRM_KAFKA_SASL_USERNAME?" in message
    assert "LEANCRM_PARTITION is not read" in message and "LEANCRM_PARTITIONS?" in message
    assert check_environment(strict, {"LEANCRM_PARTITIONS": "3"}) == []
