"""docs/RELIABILITY.md: the runs' verdicts and figures, with what was injected and why the numbers are bounded."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from voiceprint_local.reliability import chaos, observe
from voiceprint_local.reliability.burst import BurstResult
from voiceprint_local.reliability.chaos import ChaosResult
from voiceprint_local.reliability.pacing import MAX_429_SHARE, TARGET_RATIO, PacingResult


def _table(rows: list[tuple[str, Any]]) -> str:
    return "\n".join(["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def _announced(a: observe.Announcements) -> str:
    return (
        f"{a.expected - a.missing:,}/{a.expected:,} ({a.duplicates} announced twice, "
        f"{a.unexpected} events for no terminal record)"
    )


def render_pacing(runs: Sequence[PacingResult], picture: str | None) -> list[str]:
    """The pacing runs' section: one rate budget shared by 1, 2 and 4 submit containers (issue 14)."""
    if not runs:
        return []
    first = runs[0]
    ok = all(r.ok for r in runs)
    out = [
        f"## Pacing: one rate budget shared by {', '.join(str(r.containers) for r in runs)} submit containers — "
        f"{'PASS' if ok else 'FAIL'}",
        "",
        f"{first.uploads:,} uploads at once, drained by N submit containers (each its own handler module, clients "
        f"and share of the limit, polling the queue at once) against {first.limit} submits per {first.window_seconds}"
        " s window: a limit the local stack sustains with room to spare, so the windows measure the pacing, not "
        "the stack. Every container takes its tokens from one counter in the table, in blocks that shrink as the "
        "window fills (`voiceprint/rate_allowance.py`). Windows are counted from the first submission's to the "
        f"last's; the uploads start at a window's first second. Targets (issue 14): at most {TARGET_RATIO} x the "
        f"ideal windows, 429s under {MAX_429_SHARE:.0%} of submits.",
        "",
        "| containers | windows / ideal | 429s (share of submits) | most 429s in a window | rate counter writes "
        "per job | succeeded | duration | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        most = max((w[1] for w in r.per_window), default=0)
        out.append(
            f"| {r.containers} | {r.windows} / {r.ideal_windows} ({r.ratio:.2f}x) | {r.answers_429} "
            f"({r.answers_429 / max(1, r.submits):.1%}) | {most} | {r.rate_writes / max(1, r.succeeded):.2f} | "
            f"{r.succeeded:,}/{r.uploads:,} | {r.seconds:.0f} s | {'PASS' if r.ok else 'FAIL'} |"
        )
    out += [
        "",
        "A message that finds no token returns at the next window while the queue holds under 10 windows of work, "
        "else at a random point of its drain less those 10 windows (every waiting message counted: visible, "
        "delayed and in flight), with no doubling jitter (`submit_service._turn`). Until stop 26 the depth counted "
        "the visible messages alone and a jitter doubling with each return was added: the last messages came back "
        "after the backlog ahead of them was gone, a tail of 2 to 5 windows (17, 18 and 20 for 15). Until stop 27 "
        "the local stack's IAM check also refused the depth's read (it had no mapping for sqs:GetQueueAttributes), "
        "so earlier local runs paced with a depth of 0; these runs read it.",
        "",
        "The counter's writes per job are high at this small limit: each container pays a fixed few writes a "
        "window (its first take in a window is two writes, a take from a spent window one, the vendor's remaining "
        "count at most one), and 20 submits a window share them; at 4 containers that is more than one a job. At "
        "pyannoteAI's 100 a minute the scale model below gives 0.35-0.40.",
    ]
    if picture:
        out += ["", f"![Submits, 429s and backlog per window]({picture})"]
    for r in runs:
        if r.errors:
            out += ["", f"Errors with {r.containers} container(s):", "", *(f"- `{e}`" for e in r.errors[:20])]
    return [*out, ""]


def render(
    burst: BurstResult | None,
    chaos_run: ChaosResult | None,
    command: str,
    pacing_runs: Sequence[PacingResult] = (),
    picture: str | None = None,
) -> str:
    out = [
        "# Reliability",
        "",
        f"Produced by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs). "
        "Everything runs on this machine: moto server, the pyannoteAI emulator, the local HTTP API and the "
        "unchanged handlers, over HTTP on 127.0.0.1. Re-run the command to refresh this file.",
        "",
    ]
    out += render_pacing(pacing_runs, picture)
    if burst is not None:
        b = burst
        out += [
            f"## Burst: {b.uploads:,} uploads at once, {b.limit} submits per window — {'PASS' if b.ok else 'FAIL'}",
            "",
            f"The emulator enforces {b.limit} `POST /v1/voiceprint` per window and answers 429 with "
            f"`Retry-After` beyond it. The clock is accelerated {b.scale:g} times: a window lasts "
            f"{b.window_seconds:.1f} s instead of 60 s, and our backoff (base and cap) is shortened by the same "
            "factor through `RETRY_BASE_SECONDS` / `RETRY_MAX_DELAY_SECONDS`, and so is the reconciler's wait for a "
            "lost webhook (`RECONCILE_AFTER_SECONDS`). One submit container, as with "
            "`SubmitMaxConcurrency: 1`.",
            "",
            _table(
                [
                    ("all terminal", b.settled),
                    ("records by status", b.statuses),
                    ("jobs created (POSTs that made a job)", f"{b.jobs_created:,}"),
                    ("objects submitted twice", b.objects_submitted_twice),
                    ("429 answers", f"{b.answers_429} over ~{b.windows} windows"),
                    ("objects that met a 429", b.objects_throttled),
                    ("most 429s met by one object", b.max_throttles_per_object),
                    ("dead-lettered", b.dead_lettered),
                    ("lost", b.lost),
                    ("submit invocations", f"{b.submit_invocations:,}"),
                    ("terminal records announced on EventBridge", _announced(b.announcements)),
                    ("secrets found in the captured logs", b.secret_leaks),
                    (
                        "duration",
                        f"{b.seconds:.0f} s ({b.uploads / max(b.seconds, 1e-9):.1f} voiceprints/s; "
                        f"the limit allows {b.limit / b.window_seconds:.1f}/s)",
                    ),
                    ("equivalent real time at 100/min", f"{b.uploads / observe.API_RATE_PER_MINUTE:.0f} min minimum"),
                ]
            ),
            "",
            "Why 429s stay bounded: after a 429 the container stops calling the API until the window has passed "
            "(the rest of its batch goes back to the queue without a request), and a message returned while the "
            "API is paused comes back after `Retry-After` plus a jitter window that doubles with its receive "
            "count, or, when later, at a random point of the time the limit needs to drain the backlog ahead of it "
            "(the queue's depth over `SUBMITS_PER_WINDOW`), so a backlog of many windows spreads out instead of "
            "returning every window. 429s spend no "
            "failure budget, so nothing healthy is dead-lettered by a burst.",
            "",
        ]
        if b.errors:
            out += ["Errors seen:", "", *(f"- `{e}`" for e in b.errors), ""]
    if chaos_run is not None:
        c = chaos_run
        env = ", ".join(f"`{k}={v}`" for k, v in chaos.CHAOS_ENV.items())
        out += [
            f"## Chaos: {c.uploads:,} uploads under a seeded fault matrix (seed {c.seed}) — "
            f"{'PASS' if c.ok else 'FAIL'}",
            "",
            "What was injected, at which rate (each draw seeded):",
            "",
            _table(
                [(f"emulator `{k}`", v) for k, v in c.emulator_config.items()]
                + [(f"stack `{k}`", v) for k, v in c.fault_config.items()]
                + [(f"bad input `{k}`", v) for k, v in chaos.BAD_INPUT.items()]
                + [
                    ("new version of an existing key", chaos.NEW_VERSION_RATE),
                    ("forged/stale webhooks", chaos.FORGED_WEBHOOKS),
                    ("genuine results replayed at other records", chaos.CROSS_REPLAYS),
                    ("forged queue messages (new upload, deletes, other bucket, poison)", chaos.FORGED_QUEUE_MESSAGES),
                ]
            ),
            "",
            f"Timings shortened so that every recovery path runs within the run: {env}, queue visibility "
            f"{chaos.CHAOS_QUEUE_VISIBILITY} s, reconciler every 1 s.",
            "",
            "What happened:",
            "",
            _table(
                [(f"injected: {k}", v) for k, v in sorted(c.injected.items())]
                + [(f"observed: {k}", v) for k, v in sorted(c.observed.items())]
            ),
            "",
            "Outcomes:",
            "",
            _table(
                [
                    ("object versions uploaded", c.objects),
                    ("all terminal or dead-lettered", c.settled),
                    ("records by status", c.statuses),
                    ("failures by code", c.failure_codes),
                    ("failures without a reason", c.failures_without_reason),
                    ("bad input with the wrong outcome", len(c.wrong_outcomes)),
                    ("lost (neither terminal nor in the DLQ)", len(c.lost)),
                    ("dead-lettered", len(c.dead_lettered)),
                    ("terminal records that changed afterwards", c.regressions),
                    ("jobs created at the API", c.jobs_created),
                    ("extra jobs (double billing)", c.extra_jobs),
                    (
                        "... forced: the answer was lost (timeout) or we crashed before recording it",
                        c.extra_jobs_forced,
                    ),
                    ("... unexplained", len(c.extra_jobs_unexplained)),
                    ("lost answers recovered without a new job (adopted webhook)", c.adopted_instead_of_resubmitted),
                    ("forged/stale webhooks sent", c.forged_sent),
                    ("their answers", c.forged_answers),
                    ("records they changed", c.forged_writes),
                    ("genuine results replayed at other records (no MAC, or a wrong one)", c.replays_sent),
                    ("their answers", c.replay_answers),
                    ("records holding another object's job", len(c.crossed_records)),
                    ("forged queue messages sent", c.queue_forgeries),
                    ("... poison dead-lettered with a reason", c.poison_dead_lettered),
                    (
                        f"objects enqueued again by `voiceprint sweep --older-than {chaos.SWEEP_AGE}` "
                        f"(every {chaos.SWEEP_EVERY:.0f} s: {c.sweeps} sweeps)",
                        c.swept,
                    ),
                    ("vendor answers outside the spec (each a job's first GET)", c.hostile_answers),
                    ("terminal records announced on EventBridge", _announced(c.announcements)),
                    ("log lines captured", c.log_lines),
                    ("secrets found in them", c.secret_leaks),
                    ("duration", f"{c.seconds:.0f} s"),
                ]
            ),
            "",
            "Double billing: pyannoteAI has no idempotency key, so when a `POST /v1/voiceprint` creates a job and "
            "its answer never reaches us (client timeout) or we crash before writing the jobId, a retry creates a "
            "second job. The webhook URL carries our object reference, so when the first job's webhook arrives "
            "before the retry, the retry adopts that result instead of submitting again; only when the retry "
            "comes first (or that webhook is dropped) is a second job created. Every extra job above is matched "
            "to a timeout or crash injected for that very object.",
            "",
        ]
        for title, items in (
            ("Lost", c.lost),
            ("Wrong outcomes", c.wrong_outcomes),
            ("Unexplained extra jobs", c.extra_jobs_unexplained),
            ("Dead letters", [f"{d['keys']}: {d['reason']}" for d in c.dead_lettered]),
            ("Errors seen by the local stack (injected crashes included)", c.errors),
        ):
            if items:
                out += [f"{title}:", "", *(f"- `{i}`" for i in items[:20]), ""]
    return "\n".join(out)
