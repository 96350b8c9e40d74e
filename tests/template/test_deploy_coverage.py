"""Issue 12: every resource type of the translated template is either created by moto's CloudFormation or has a
stand-in on the local stack that the README names (deploy.NOT_CREATED)."""

from __future__ import annotations

from voiceprint_local import deploy, template


def test_what_moto_does_not_create_is_exactly_what_the_local_stack_stands_in_for() -> None:
    assert deploy.not_created(deploy.translated()) == set(deploy.NOT_CREATED)


def test_the_readme_names_each_stand_in() -> None:
    readme = (template.ROOT / "README.md").read_text()
    for kind in ("WebhookRefKeySecret", "HTTP API", "schedule", "event source mappings", "alarms"):
        assert kind in readme.split("### The local stack, and where it differs from AWS")[1].split("\n## ")[0]
