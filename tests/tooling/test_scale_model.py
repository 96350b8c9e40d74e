"""The scale model (local/voiceprint_local/scale_model.py) on small numbers: what it must get right for its figures
in docs/RELIABILITY.md to mean anything."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from voiceprint.rate_allowance import LEAST_BLOCK
from voiceprint_local import scale_model
from voiceprint_local.scale_model import Model, run


def test_the_shared_budget_never_meets_a_429_and_never_exceeds_the_limit() -> None:
    out = run(Model(2_000, containers=4, pacing="shared", spread_by_backlog=True))
    assert (out.submitted, out.throttled, out.lost, out.dead_lettered) == (2_000, 0, 0, 0)
    assert out.windows >= out.ideal_windows
    # Blocks of at least LEAST_BLOCK tokens, plus what each container's takes cost per window (a window's first take
    # is two writes, a refused one is one): under half a write a job, never one per job.
    assert 0 < out.budget_writes <= 2_000 / LEAST_BLOCK + 3 * 4 * out.windows
    assert out.budget_writes < 2_000 / 2


def test_blocks_held_to_what_a_container_has_in_hand_drain_faster_than_blocks_of_five() -> None:
    """Tokens stranded in one container are lost to the others: blocks of 5 at 4 containers cost 9 % of the
    drain (the scale model's table); held to the batch in hand (at least LEAST_BLOCK), the drain is within 5 %."""
    fives = run(Model(10_000, containers=4, pacing="shared", spread_by_backlog=True, least_block=5))
    built = run(Model(10_000, containers=4, pacing="shared", spread_by_backlog=True))
    assert built.windows < fives.windows
    assert built.windows / built.ideal_windows <= 1.05


def test_containers_pacing_on_their_own_each_meet_the_limit() -> None:
    one, four = run(Model(2_000, containers=1)), run(Model(2_000, containers=4))
    assert one.submitted == four.submitted == 2_000
    assert 0 < one.throttled < four.throttled
    assert four.worst_window_429s <= 4  # one per container per window: each pauses after its first


def test_a_backlog_deeper_than_the_receive_limit_allows_is_dead_lettered_unless_messages_return_by_their_turn() -> None:
    # A receive limit of 25 (the stack's is 50) with 20,000 uploads (200 windows of work): the backoff alone
    # brings messages back every few windows; by their turn, a message is received a few times. (Under 10 windows
    # of work each returns at the next window, so a limit much under 10 + a few would not hold: 50 does.)
    built = run(Model(20_000, max_receive_count=25))
    assert built.dead_lettered > 0
    assert built.submitted + built.dead_lettered == 20_000
    planned = run(Model(20_000, max_receive_count=25, pacing="shared", spread_by_backlog=True))
    assert (planned.dead_lettered, planned.submitted) == (0, 20_000)


def test_messages_that_outlive_retention_are_lost_unless_a_sweep_brings_them_back() -> None:
    lost = run(Model(1_500, retention=600.0))
    assert lost.expired > 0
    assert lost.lost == lost.expired
    swept = run(Model(1_500, retention=600.0, sweep_every=120.0, sweep_age=60.0))
    assert swept.lost == 0
    assert swept.swept >= swept.expired > 0


def test_the_same_seed_gives_the_same_figures() -> None:
    a, b = run(Model(1_000, containers=2)), run(Model(1_000, containers=2))
    assert (a.drained_at, a.throttled, a.receives) == (b.drained_at, b.throttled, b.receives)


def test_its_section_replaces_itself_in_the_report_and_a_new_run_of_the_stack_keeps_it(tmp_path: Path) -> None:
    small = (scale_model.Scenario("tiny", Model(200)),)
    path = tmp_path / "RELIABILITY.md"
    path.write_text("# Reliability\n\nthe runs\n")
    path.write_text(path.read_text() + "\n" + scale_model.section(small) + "\n")
    kept = scale_model.kept_section(path)
    assert kept.startswith(scale_model.BEGIN)
    assert "| tiny | " in kept
    assert kept.endswith(scale_model.END)


def test_the_reliability_tools_import_no_service_before_the_handlers_do() -> None:
    """A service module makes a child Logger at import: imported by the reliability tools before the local stack
    loads a handler (whose module makes the parent), every log line of that service raised OrphanedChildLoggerError
    and the pacing run's submissions all failed. The model and the report import no service."""
    code = (
        "import sys; import voiceprint_local.reliability.report, voiceprint_local.scale_model; "
        "print(sorted(m for m in sys.modules if m.startswith('voiceprint.') and m.endswith('_service')))"
    )
    found = subprocess.run(  # noqa: S603 - this interpreter, a fixed snippet
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env()
    )
    assert found.stdout.strip() == "[]"


def _env() -> dict[str, str]:
    root = Path(__file__).resolve().parents[2]
    paths = [root / "layers" / "common", root / "local", root / "cli", root]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in paths)}


def test_fed_the_local_stacks_pace_it_gives_the_windows_the_stacks_burst_took() -> None:
    """The check against the local stack (docs/RELIABILITY.md's burst): the committed burst's uploads, one container,
    12 s windows and the stack's own pace give, modelled, the windows the stack took, within 5 %, with nothing lost
    and no 429. A model whose queue, backoff or budget drifted from the stack's would drain otherwise."""
    local = run(scale_model.SCENARIOS[-1].model)
    assert local.model.uploads == scale_model.LOCAL_BURST_UPLOADS
    assert abs(local.windows / scale_model.LOCAL_BURST_WINDOWS - 1) <= 0.05
    assert (local.submitted, local.throttled, local.lost, local.dead_lettered) == (local.model.uploads, 0, 0, 0)
