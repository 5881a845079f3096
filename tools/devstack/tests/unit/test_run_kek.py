"""scripts/run's key-encryption key: made once in the work directory, owner-only, given
to the entitled services only; a KEK configured already is used as it is."""

from __future__ import annotations

import stat
from pathlib import Path

from leancrm_devstack.launcher import PERSONAL_DATA_SERVICES, personal_data_kek_environment
from leancrm_servicekit.settings import ServiceSettings, load_settings


def test_the_run_makes_a_kek_once_and_keeps_it(tmp_path: Path) -> None:
    env = personal_data_kek_environment(tmp_path, {})
    path = Path(env["LEANCRM_PERSONAL_DATA_KEK_FILE"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = load_settings(ServiceSettings, env).personal_data_keyring()
    again = load_settings(ServiceSettings, personal_data_kek_environment(tmp_path, {}))
    assert first is not None and again.personal_data_keyring() == first  # the database's keys still unwrap
    assert set(PERSONAL_DATA_SERVICES) == {"customers", "waste"}


def test_a_configured_kek_is_used_as_it_is(tmp_path: Path) -> None:
    assert personal_data_kek_environment(tmp_path, {"LEANCRM_PERSONAL_DATA_KEK": "x"}) == {}
    assert personal_data_kek_environment(tmp_path, {"LEANCRM_PERSONAL_DATA_KEK_FILE": "/k"}) == {}
    assert not (tmp_path / "secrets").exists()
