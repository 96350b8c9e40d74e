from __future__ import annotations

import pytest

from voiceprint.settings import Settings, SettingsError


def test_defaults() -> None:
    s = Settings.from_env({"TABLE_NAME": "t"})
    assert s.presign_expiry_seconds == 1800
    assert s.webhook_tolerance_seconds == 900
    assert s.accept_previous_webhook_secret is True
    assert s.api_base_url == "https://api.pyannote.ai"


def test_table_name_is_required() -> None:
    with pytest.raises(SettingsError, match="TABLE_NAME"):
        Settings.from_env({})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PRESIGN_EXPIRY_SECONDS", "5"),
        ("PRESIGN_EXPIRY_SECONDS", "604800"),
        ("RETENTION_DAYS", "x"),
        ("WEBHOOK_TOLERANCE_SECONDS", "60"),
    ],
)
def test_out_of_range_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"TABLE_NAME": "t", name: value})


def test_tolerance_floor_covers_the_vendor_retry_schedule() -> None:
    # 3 retries: immediately, +1 min, +5 min -> a window under ~7 min would refuse genuine retries.
    with pytest.raises(SettingsError):
        Settings.from_env({"TABLE_NAME": "t", "WEBHOOK_TOLERANCE_SECONDS": "419"})


def test_a_functions_required_settings_fail_at_cold_start_not_on_the_first_request() -> None:
    import pytest

    from voiceprint.settings import Settings, SettingsError

    settings = Settings.from_env({"TABLE_NAME": "t"})
    with pytest.raises(SettingsError, match="ref_key_secret_id, webhook_secret_id"):
        settings.require("table_name", "webhook_secret_id", "ref_key_secret_id")
    assert settings.require("table_name") is settings
