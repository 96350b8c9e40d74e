"""The doctor's verdicts on what the local stack cannot have (alarms, the schedule), and where enrol puts a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voiceprint_cli import doctor
from voiceprint_cli.deployed import Deployed
from voiceprint_cli.uploads import key_for


class _Clients:
    def __init__(self, alarms: list[dict[str, str]], schedule_state: str) -> None:
        self._alarms, self._state = alarms, schedule_state

    def client(self, service: str, endpoint_url: str | None = None) -> Any:
        outer = self

        class Stub:
            def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:
                return {"MetricAlarms": [a for a in outer._alarms if a["AlarmName"] in AlarmNames]}

            def get_schedule(self, Name: str) -> dict[str, str]:
                return {"Name": Name, "State": outer._state}

        return Stub()


def _stack(alarms: list[dict[str, str]], state: str) -> Deployed:
    physical = {"DlqAlarm": "stack-DlqAlarm", "Schedule": "stack-Schedule"}
    types = {"DlqAlarm": "AWS::CloudWatch::Alarm", "Schedule": "AWS::Scheduler::Schedule"}
    return Deployed("stack", {}, {}, physical, types, _Clients(alarms, state), None)


def test_an_alarm_in_alarm_and_a_disabled_schedule_have_their_own_codes() -> None:
    firing = _stack([{"AlarmName": "stack-DlqAlarm", "StateValue": "ALARM"}], "DISABLED")
    checks = [doctor.alarms_check(firing), doctor.schedule_check(firing)]
    assert [(c.code, c.ok) for c in checks] == [(14, False), (15, False)]
    assert doctor.exit_code(checks) == 14
    calm = _stack([{"AlarmName": "stack-DlqAlarm", "StateValue": "OK"}], "ENABLED")
    assert doctor.exit_code([doctor.alarms_check(calm), doctor.schedule_check(calm)]) == 0


def test_enrol_puts_the_file_in_its_group_and_a_non_ascii_label_in_the_name() -> None:
    assert key_for("voiceprints/", "team-a", Path("/tmp/take.wav"), "Alice") == "voiceprints/team-a/take.wav"
    assert key_for("voiceprints/", "/team-a/", Path("take.wav")) == "voiceprints/team-a/take.wav"
    assert key_for("voiceprints/", None, Path("take.wav"), "Zoë") == "voiceprints/Zoë.wav"
    assert key_for("identify/", "", Path("call.mp3")) == "identify/call.mp3"
