"""The shared rate allowance (voiceprint/rate_allowance.py) on the in-memory counter, on a clock the test moves;
and the submit service spending it (issue 14: one budget for every container, no 429 that another has met)."""

from __future__ import annotations

import pytest

from tests.fakes import FakeRateTokens
from tests.unit.test_services_with_fakes import BUCKET, NOW, SETTINGS, World, _reconciler, _signed, _webhook
from voiceprint.disposition import Disposition, RetryLater
from voiceprint.job_state import Outcome, Status
from voiceprint.object_ref import record_keys
from voiceprint.pyannote_client import Job, JobCreated, RateLimited
from voiceprint.rate_allowance import LEAST_BLOCK, READ, SUBMIT, RateAllowance

WINDOW = 60
START = (NOW // WINDOW) * WINDOW  # a window's first second


def _allowance(tokens: FakeRateTokens, *, limit: int = 10, block: int = 5, containers: int = 2) -> RateAllowance:
    return RateAllowance(tokens, SUBMIT, limit=limit, window_seconds=WINDOW, block=block, containers=containers)


def test_containers_share_one_limit_per_window_taken_in_blocks_that_shrink_as_it_fills() -> None:
    tokens = FakeRateTokens()
    a, b = _allowance(tokens), _allowance(tokens)
    taken = 0
    for i in range(12):
        container = a if i % 2 == 0 else b
        if container.take(START + i, upcoming=5) == 0.0:
            taken += 1
    assert taken == 10  # the limit, whichever container asked
    assert tokens.used(SUBMIT, int(START // WINDOW)) == 10
    assert tokens.writes < 10  # blocks: fewer writes than requests
    assert a.take(START + 20) == pytest.approx(WINDOW - 20)  # spent: back at the window's end
    assert a.wait(START + 30) == pytest.approx(WINDOW - 30)  # known without asking again
    assert a.take(START + WINDOW) == 0.0  # the next window starts afresh


def test_a_block_is_the_room_left_shared_among_the_containers() -> None:
    tokens = FakeRateTokens()
    window = int(START // WINDOW)
    tokens.spend(SUBMIT, window, 94)  # 6 left in the window
    allowance = _allowance(tokens, limit=100, block=5, containers=4)
    allowance.take(START)
    assert tokens.used(SUBMIT, window) == 95  # 6 // 4 = 1: not a block of 5 a container might strand


def test_a_block_is_never_more_than_the_requests_the_container_has_in_hand() -> None:
    tokens = FakeRateTokens()
    allowance = _allowance(tokens, limit=100, block=5)
    allowance.take(START, upcoming=4)  # a batch of 4: tokens it could not spend would be lost to the others
    assert tokens.used(SUBMIT, int(START // WINDOW)) == 4
    for second in (1, 2, 3):
        assert allowance.take(START + second) == 0.0
    assert tokens.used(SUBMIT, int(START // WINDOW)) == 4  # spent from the block, no write
    allowance.take(START + 4, upcoming=1)  # one in hand: still LEAST_BLOCK, not a write per request
    assert tokens.used(SUBMIT, int(START // WINDOW)) == 4 + LEAST_BLOCK


def test_a_429_spends_the_window_for_every_container() -> None:
    tokens = FakeRateTokens()
    a, b = _allowance(tokens, limit=100), _allowance(tokens, limit=100)
    assert a.take(START) == 0.0
    a.refused(START + 1)
    assert b.take(START + 2) == pytest.approx(WINDOW - 2)
    assert b.take(START + WINDOW) == 0.0


def test_a_429_whose_window_ends_well_before_ours_pauses_only_its_container() -> None:
    """The vendor's windows are not ours (another length or phase): its Retry-After, not our window, says when it
    has room again, and spending our whole window for everyone would stall the others for nothing."""
    tokens = FakeRateTokens()
    a, b = _allowance(tokens, limit=100), _allowance(tokens, limit=100)
    a.take(START)
    a.refused(START + 1, retry_after=2)
    assert b.take(START + 2) == 0.0
    a.refused(START + 50, retry_after=15)  # back after our window's end: the same window, spent for everyone
    assert b.take(START + 51, upcoming=5) == 0.0  # b still holds tokens of its block
    assert tokens.used(SUBMIT, int(START // WINDOW)) == 100


def test_the_vendors_remaining_count_raises_the_counter_only_when_it_is_ahead() -> None:
    tokens = FakeRateTokens()
    allowance = _allowance(tokens, limit=100)
    window = int(START // WINDOW)
    allowance.take(START)
    writes = tokens.writes
    allowance.observe(START + 1, 99)  # the vendor counted our one request: nothing to write
    allowance.observe(START + 1, None)
    assert tokens.writes == writes
    allowance.observe(START + 2, 30)  # 70 used: another tool shares the key
    assert tokens.used(SUBMIT, window) == 70
    writes = tokens.writes
    allowance.observe(START + 3, 20)  # once a window: later counts may be other containers' requests
    assert tokens.writes == writes
    allowance.observe(START + 3, 1, vendor_limit=2)  # out of another limit: says nothing of our windows
    assert tokens.used(SUBMIT, window) == 70


def _world(tokens: FakeRateTokens, limit: int = 2) -> World:
    world = World(allowance=_allowance(tokens, limit=limit, block=1, containers=1))
    world.now = START
    return world


def test_with_the_windows_tokens_out_an_upload_waits_for_the_next_unpaid_and_without_a_429() -> None:
    tokens = FakeRateTokens()
    world = _world(tokens)
    for name in ("a", "b", "c", "d"):
        world.upload(f"voiceprints/team/{name}.wav")
    assert world.handle("voiceprints/team/a.wav") == [Disposition.SUBMITTED]
    assert world.handle("voiceprints/team/b.wav") == [Disposition.SUBMITTED]
    with pytest.raises(RetryLater) as waited:
        world.handle("voiceprints/team/c.wav")
    assert waited.value.delay_seconds >= WINDOW  # no earlier than the next window
    assert len(world.vendor.calls) == 2  # no request the vendor would refuse
    assert world.record("voiceprints/team/c.wav", "v1")["status"] == "retrying"
    reads = len(world.objects.reads)
    with pytest.raises(RetryLater):  # the container knows: d goes back before its object is even read
        world.handle("voiceprints/team/d.wav")
    assert len(world.objects.reads) == reads
    world.now = START + WINDOW
    assert world.handle("voiceprints/team/c.wav") == [Disposition.SUBMITTED]


@pytest.mark.parametrize("receive_count", [1, 8, 30])
@pytest.mark.parametrize(("backlog", "draw", "delay"), [(0, 1.0, WINDOW), (900, 1.0, WINDOW), (2_000, 0.5, WINDOW * 5)])
def test_a_message_without_a_token_returns_by_its_turn_however_often_it_came_back(
    receive_count: int, backlog: int, draw: float, delay: int
) -> None:
    """The pacing runs' tail (docs/RELIABILITY.md): a doubling jitter on messages our own budget sent back outlasted
    the backlog ahead of them. Back at the window with room while the backlog is under 10 windows of work (900
    messages at the settings' 100 a minute), else at a random point of its drain less those 10 windows (2,000 is 20
    windows: halfway through the other 10 is 5), whatever its receive count; the container is not paused."""
    tokens = FakeRateTokens()
    world = _world(tokens)
    world.backlog, world.draw = backlog, draw
    for name in ("a", "b", "c", "d"):
        world.upload(f"voiceprints/team/{name}.wav")
    world.handle("voiceprints/team/a.wav")
    world.handle("voiceprints/team/b.wav")
    with pytest.raises(RetryLater) as no_token:
        world.handle("voiceprints/team/c.wav", receive_count=receive_count)
    with pytest.raises(RetryLater) as known_spent:  # sent back before its object is read, by the same rule
        world.handle("voiceprints/team/d.wav", receive_count=receive_count)
    assert (no_token.value.delay_seconds, known_spent.value.delay_seconds) == (delay, delay)
    world.now = START + WINDOW
    assert world.handle("voiceprints/team/d.wav", receive_count=receive_count) == [Disposition.SUBMITTED]


def test_a_429_met_by_one_container_sends_the_others_back_without_a_request() -> None:
    tokens = FakeRateTokens()
    first, second = _world(tokens, limit=100), _world(tokens, limit=100)
    first.vendor.answers.append(RateLimited("429", retry_after=WINDOW))
    first.upload("voiceprints/team/a.wav")
    second.upload("voiceprints/team/b.wav")
    with pytest.raises(RetryLater):
        first.handle("voiceprints/team/a.wav")
    with pytest.raises(RetryLater):
        second.handle("voiceprints/team/b.wav")
    assert second.vendor.calls == []
    second.now = START + WINDOW
    assert second.handle("voiceprints/team/b.wav") == [Disposition.SUBMITTED]


def test_the_counter_follows_the_vendors_remaining_count() -> None:
    tokens = FakeRateTokens()
    world = _world(tokens, limit=100)
    world.vendor.answers.append(JobCreated("job-x", "created", rate_remaining=10))
    world.upload("voiceprints/team/a.wav")
    assert world.handle("voiceprints/team/a.wav") == [Disposition.SUBMITTED]
    assert tokens.used(SUBMIT, int(START // WINDOW)) == 90


def _reads(tokens: FakeRateTokens, limit: int) -> RateAllowance:
    return RateAllowance(tokens, READ, limit=limit, window_seconds=WINDOW, block=5, containers=2)


def test_the_reconciler_polls_no_more_than_the_job_read_limit_leaves() -> None:
    tokens = FakeRateTokens()
    world = World()
    for name in ("a", "b", "c"):
        world.upload(f"voiceprints/team/{name}.wav")
        world.handle(f"voiceprints/team/{name}.wav")
    reads = _reads(tokens, limit=2)
    later = NOW + SETTINGS.reconcile_after_seconds + 1
    report = _reconciler(world, later, reads).run()
    gets = [c for c in world.vendor.calls if c[0] == "GET /v1/jobs"]
    assert (report.throttled, report.polled, len(gets)) == (True, 2, 2)
    assert tokens.used(READ, int(later // WINDOW)) == 2


def test_a_429_on_a_job_read_spends_the_read_window_for_the_webhook_too() -> None:
    tokens = FakeRateTokens()
    world = World()
    world.upload("voiceprints/team/a.wav")
    world.handle("voiceprints/team/a.wav")
    world.vendor.get_job = _throttled  # type: ignore[method-assign]
    later = NOW + SETTINGS.reconcile_after_seconds + 1
    assert _reconciler(world, later, _reads(tokens, 300)).run().throttled
    voiceprint = Outcome("succeeded", Status.SUCCEEDED, voiceprint="VP")
    world.store.apply_outcome(record_keys(BUCKET, "voiceprints/team/a.wav", "v1"), "job-1", voiceprint, now=NOW)
    world.upload("identify/team/call.wav")
    world.handle("identify/team/call.wav")
    webhook = _webhook(world.store, world.vendor, world.results, later, _reads(tokens, 300))
    answer = webhook.handle(_signed({"jobId": "job-2", "status": "succeeded"}, at=later))
    assert answer.status_code == 503  # retried by pyannoteAI, then the reconciler: no read that would be refused
    assert tokens.used(READ, int(later // WINDOW)) == 300


def _throttled(job_id: str) -> Job:
    raise RateLimited("429", retry_after=60)
