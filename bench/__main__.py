"""python -m bench: measure everything and write docs/BENCHMARKS.md (scripts/bench.sh is the way to run it)."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import calls, containers, cost, lambda_cold, sizes, throughput
from bench.stats import RatioVerdict, Spread, paired_ratio, ratio
from voiceprint_local import lambda_artifacts, template
from voiceprint_local.stack import LocalStack, StackOptions

COLD_BUDGET = 1.10  # from the built artifacts, under Lambda's conditions
WARM_BUDGET = 1.5
RSS_BUDGET_MB = 128


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _verdict(ok: bool) -> str:
    return "within budget" if ok else "**over budget**"


def _shown(v: RatioVerdict) -> str:
    return {"within budget": "within budget", "over budget": "**over budget**"}.get(v.verdict, "inconclusive")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--processes", type=int, default=7, help="fresh processes per function and floor (>= 5)")
    parser.add_argument("--cold-rounds", type=int, default=25, help="paired cold starts per function (>= 5)")
    parser.add_argument(
        "--cold-max-rounds",
        type=int,
        default=100,
        help="more rounds, up to this many, for a function whose interval straddles the budget (0: none)",
    )
    parser.add_argument("--invocations", type=int, default=30, help="invocations per process")
    parser.add_argument("--calls-uploads", type=int, default=200)
    parser.add_argument("--throughput-uploads", type=int, default=1000)
    parser.add_argument("--sam", type=Path, default=lambda_artifacts.SAM)
    parser.add_argument("--out", type=Path, default=template.ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        _say("sam build")
        build_dir = lambda_artifacts.sam_build(Path(tmp, "build"), sam=args.sam)
        artifacts = sizes.measure(build_dir)
        runtime = lambda_artifacts.runtime_dir(Path(tmp, "runtime"))
        _say(f"cold start from the built artifacts: {args.cold_rounds} rounds, ours and the floor alternating")
        cold = lambda_cold.measure(
            build_dir, runtime, args.cold_rounds, budget=COLD_BUDGET, max_rounds=args.cold_max_rounds
        )
    _say(f"warm CPU, peak RSS: {args.processes} processes x {args.invocations} invocations each")
    with LocalStack(StackOptions(run_functions=False, emulator={"drop_webhook_rate": 1.0})) as stack:
        box = containers.measure(stack, processes=args.processes, invocations=args.invocations)
    # Throughput first: it also measures the log volume, which needs the handlers' loggers as a fresh stack makes
    # them (Powertools keeps the first level and stream it was given for a service name).
    _say(f"throughput: {args.throughput_uploads} uploads")
    flow = throughput.run(args.throughput_uploads, timeout=1800)
    _say(f"calls per job over {args.calls_uploads} uploads")
    counts = calls.count(args.calls_uploads, timeout=600)

    lines = _render(args, cold, box, counts, flow, artifacts, time.monotonic() - started)
    args.out.write_text("\n".join(lines) + "\n")
    _say(f"wrote {args.out}")
    failed = [line for line in lines if "over budget**" in line]
    for line in failed:
        _say(f"OVER BUDGET: {line}")
    for line in (line for line in lines if "| inconclusive" in line):
        _say(f"inconclusive (the interval straddles the budget; not a failure): {line}")
    _say("verdict: " + ("OVER BUDGET" if failed else "within budget (or inconclusive, see above)"))
    return 1 if failed else 0


def _render(
    args: argparse.Namespace,
    cold: lambda_cold.ColdResults,
    box: containers.ContainerResults,
    counts: calls.CallCounts,
    flow: throughput.Throughput,
    artifacts: list[sizes.Artifact],
    seconds: float,
) -> list[str]:
    out = [
        "# Benchmarks",
        "",
        f"Written by `scripts/bench.sh` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {seconds / 60:.0f} min: "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}. Every figure is median [min, max] n=samples. "
        "These are measurements, not tests: nothing in the test suite asserts a timing.",
        "",
        "Ratios come from paired samples (ours and the floor alternately, on the same machine within seconds): "
        "the median of the pairs' ratios with a bootstrap 95 % interval (2,000 resamples), and the smallest and "
        "largest pair (the run-to-run spread). A budget is **over** only when the whole interval lies above it, "
        "*inconclusive* when the interval straddles it (printed, exit code 0), within when it lies below.",
        "",
        "## Cold start as Lambda runs it: the built artifacts, no bytecode cache to write",
        "",
        "Each function is imported (module and clients) from its `sam build` artifact and the built layer, with "
        "the runtime's boto3 after them and nothing else of the repository on the path, in a fresh "
        "`python -S -B` with `PYTHONDONTWRITEBYTECODE=1`: as in Lambda, where /var/task and /opt are read-only, "
        "nothing is precompiled but what the artifacts ship (`layers/common/Makefile`, `functions/*/Makefile`: "
        "unchecked-hash bytecode for python3.12). The floor is a raw-boto3 module that imports boto3 and makes "
        "the same clients with the same config (`bench/floor_*.py`), run the same way (`bench/lambda_cold.py`). "
        "Lambda's own runtime start (before our import) is the same for both and not included. "
        f"Every function gets {cold.rounds} rounds; one whose interval still straddles the budget gets "
        f"{lambda_cold.EXTRA_BATCH} more at a time, up to {args.cold_max_rounds} (its n says how many it took).",
        "",
        f"| function | ours | floor | ratio, 95% CI, pair spread | budget ≤ {COLD_BUDGET}x |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in lambda_cold.FUNCTIONS:
        ours_ms, floor_ms = cold.ours[name], cold.floor[name]
        v = paired_ratio(ours_ms, floor_ms, COLD_BUDGET)
        out.append(
            f"| {name} | {Spread.of(ours_ms).show()} | {Spread.of(floor_ms).show()} | {v.show()} | {_shown(v)} |"
        )
    out += [
        "",
        "Ours pauses Python's cyclic garbage collector while its handler module imports and makes its clients, "
        "then freezes what that made out of later collections (`voiceprint/container_init.py`). It does so only "
        "in a Lambda container (`AWS_EXECUTION_ENV` is `AWS_Lambda_*`, set here as Lambda sets it). The floor, "
        "plain raw boto3, does not. For reference (no budget), ours against a floor that does the same, "
        "measured in the same rounds: what is left is what our code and Powertools add.",
        "",
        "| function | ours | floor, collector paused | ratio, 95% CI, pair spread |",
        "| --- | --- | --- | --- |",
    ]
    for name, paused in cold.floor_paused.items():
        ours_ms = cold.ours[name][: len(paused)]
        v = paired_ratio(ours_ms, paused, COLD_BUDGET)
        out.append(f"| {name} | {Spread.of(ours_ms).show()} | {Spread.of(paused).show()} | {v.show()} |")
    out += [
        "",
        "Where the difference goes: each round, one more process per function imports the floor's module, then "
        "Powertools' package (`import aws_lambda_powertools`: Logger, Metrics and Tracer, and what they import "
        "that boto3 does not), then our function, timing each on top of the ones before. Ours then makes its "
        "clients again, from botocore's warm model cache, with the collector paused: its share is our modules, "
        "settings and services, and the construction of its clients, but not the loading of their models.",
        "",
        "| function | " + " | ".join(lambda_cold.BREAKDOWN.values()) + " |",
        "| --- |" + " --- |" * len(lambda_cold.BREAKDOWN),
    ]
    for name, shares in cold.breakdown.items():
        out.append(f"| {name} | " + " | ".join(Spread.of(shares[key]).show() for key in lambda_cold.BREAKDOWN) + " |")
    out += [
        "",
        "For reference only (no budget): the same imports from source in the dev venv, with its warm `__pycache__` "
        "(what this page reported before the artifacts were measured; Lambda never runs this way):",
        "",
        "| function | ours | floor | ratio of medians |",
        "| --- | --- | --- | --- |",
    ]
    for name in containers.FUNCTIONS:
        ours, floor = box.spread("ours", name, "init_ms"), box.spread("floor", name, "init_ms")
        out.append(f"| {name} | {ours.show()} | {floor.show()} | {ratio(ours, floor):.2f}x |")
    out += [
        "",
        "What the Powertools utilities we do not use would add to a cold start (from the built layer, as above: "
        "import Logger, Metrics and boto3, then the same plus the utility; median of the paired differences):",
        "",
        "| utility | added import time |",
        "| --- | --- |",
    ]
    for label, added in cold.import_costs.items():
        out.append(
            f"| {label} | {statistics.median(added):.0f} ms [{min(added):.0f}, {max(added):.0f}] n={len(added)} |"
        )
    out += [
        "",
        "## Warm invocations on moto: CPU per invocation",
        "",
        "CPU time (`time.process_time`) of the handler's process for one invocation; moto and the emulator run in "
        "the parent, so their work is not counted. The first invocation of each process (secret fetch, new "
        "connections, mutagen's import) is reported apart. The submit floor reads the header with one ranged GET, "
        "claims the record and charges the budget's day counters in one transaction, presigns, POSTs and writes "
        "the jobId, and nothing else (no logs, metrics, validation or error handling); the webhook floor verifies "
        "the HMAC and makes one conditional write. Ours and the floors make their AWS clients with the same "
        "config (no client-side parameter validation: AWS validates every request).",
        "",
        f"| function | ours | floor | ratio, 95% CI, pair spread | budget ≤ {WARM_BUDGET}x "
        "| first invocation (ours / floor) | wall, warm |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, (_, _, warm) in containers.FUNCTIONS.items():
        if not warm:
            continue
        ours, floor = box.spread("ours", name, "warm_cpu_ms"), box.spread("floor", name, "warm_cpu_ms")
        first_ours, first_floor = box.spread("ours", name, "first_cpu_ms"), box.spread("floor", name, "first_cpu_ms")
        wall = box.spread("ours", name, "warm_wall_ms")
        # Pairs: the i-th warm invocation of ours and of the floor, their processes run one after the other.
        v = paired_ratio(box.ours[name].warm_cpu_ms, box.floor[name].warm_cpu_ms, WARM_BUDGET)
        out.append(
            f"| {name} | {ours.show(digits=2)} | {floor.show(digits=2)} | {v.show()} | {_shown(v)} "
            f"| {first_ours.median:.1f} / {first_floor.median:.1f} ms | {wall.median:.1f} ms |"
        )
    out += ["", "## Peak memory per handler process (VmHWM after all its invocations)", ""]
    out += [f"| function | ours | floor | budget: fits {RSS_BUDGET_MB} MB |", "| --- | --- | --- | --- |"]
    for name in containers.FUNCTIONS:
        ours, floor = box.spread("ours", name, "peak_rss_mb"), box.spread("floor", name, "peak_rss_mb")
        out.append(f"| {name} | {ours.show('MB')} | {floor.show('MB')} | {_verdict(ours.high < RSS_BUDGET_MB)} |")
    out += _render_calls(counts)
    out += _render_throughput(flow)
    out += _render_sizes(artifacts)
    out += _render_cost(box, counts, flow)
    return out


def _render_calls(c: calls.CallCounts) -> list[str]:
    def per(function: str, service: str, *operations: str) -> float:
        return sum(c.calls[(function, service, op)] for op in operations) / c.jobs

    writes = c.by(lambda f, s, op: s == "dynamodb" and op in calls.WRITES) / c.jobs
    reads = c.by(lambda f, s, op: s == "dynamodb" and op not in calls.WRITES)
    secrets = c.by(lambda f, s, op: s == "secrets-manager")
    attempts, made = sum(c.attempts.values()), sum(c.calls.values())
    rows = [
        ("presigned URLs (local signing)", "1", f"{sum(c.presigns.values()) / c.jobs:.2f}", "submit"),
        ("POST /v1/voiceprint", "1", f"{c.api['POST /v1/voiceprint'] / c.jobs:.2f}", "emulator's count"),
        ("GET /v1/jobs/{id} (polls)", "0", f"{c.api['GET /v1/jobs/{id}'] / c.jobs:.2f}", "webhooks all arrived"),
        (
            "DynamoDB writes",
            "3",
            f"{writes:.2f}",
            f"submit {per('submit', 'dynamodb', *calls.WRITES):.2f} (claim + budget "
            f"{per('submit', 'dynamodb', 'TransactWriteItems'):.2f} + jobId), "
            f"webhook {per('webhook', 'dynamodb', *calls.WRITES):.2f} (result)",
        ),
        (
            "DynamoDB writes, rate counter",
            "0",
            f"{c.by(lambda f, s, op: s == calls.RATE_COUNTER and op in calls.WRITES) / c.jobs:.2f}",
            "the vendor's limit shared by every container: a block of tokens per write (voiceprint/rate_allowance.py)",
        ),
        ("S3 GetObject (ranged header read)", "n/a", f"{per('submit', 's3', 'GetObject'):.2f}", "one 64 KiB block"),
        (
            "EventBridge PutEvents",
            "n/a",
            f"{per('events', 'eventbridge', 'PutEvents'):.2f}",
            "events function, off the job's path: one call per stream batch of up to 10 records",
        ),
        (
            "Secrets Manager GetSecretValue",
            "1 per secret per container",
            f"{secrets} in all",
            "one per function that needs a secret, cached for SECRET_CACHE_SECONDS",
        ),
        (
            "DynamoDB reads",
            "n/a",
            f"{reads} in all",
            "the reconciler's scheduled query of the pending index, not per job",
        ),
    ]
    out = [
        "",
        f"## AWS and API calls per successful job ({c.jobs} uploads on the local stack, all succeeded)",
        "",
        "Counted with botocore event hooks (`before-call` per API call, `before-send` per HTTP attempt, "
        "`provide-client-params` without a call = a presign) on the session the handlers' clients come from, "
        "attributed to the function running on the thread; the API's requests come from the emulator.",
        "",
        "| call | floor | measured per job | notes |",
        "| --- | --- | --- | --- |",
    ]
    out += [f"| {a} | {b} | {m} | {n} |" for a, b, m, n in rows]
    out += [
        "",
        f"HTTP attempts {attempts} for {made} calls (retries: {attempts - made}). Lambda invocations: "
        + ", ".join(f"{k} {v}" for k, v in c.invocations.items())
        + f"; webhooks delivered {c.webhooks_sent}.",
        "",
        "**The floor's writes** are the least a correct submit makes: one transaction that claims the record "
        "(so a duplicate delivery of the S3 event, SQS and S3 being at-least-once, cannot submit and pay for the "
        "same object twice: pyannoteAI has no idempotency key) and charges the group's and the stack's day "
        "counters (so a quota cannot be exceeded by concurrent submits nor charged twice by a retry), the jobId, "
        "and the webhook's result. **One write over the floor, on purpose:** ours claims with its own conditional "
        "write before it reads the object, then charges in the transaction (conditioned on that claim) once the "
        "header has given the duration. A duplicate delivery or a held lease therefore stops before any S3 read, "
        "and a crash between the read and the POST leaves a lease the next attempt can take over "
        "(docs/RELIABILITY.md: no unexplained double submission, duplicate deliveries absorbed). It costs one "
        "1 KB write unit, $0.625 per million jobs; the transaction bills 2 units per item (see the cost below).",
    ]
    return out


def _render_throughput(t: throughput.Throughput) -> list[str]:
    p = t.profile
    out = [
        "",
        f"## Throughput of the local stack: {t.uploads} uploads, no rate limit",
        "",
        f"{t.per_second:.1f} terminal records per second: {t.uploads} uploads in {t.upload_seconds:.1f} s, "
        f"the last record terminal after {t.seconds:.1f} s. One process; the SQS dispatcher runs one submit "
        "invocation at a time (as one Lambda container would), webhooks arrive on the HTTP API's threads.",
        "",
        f"Where the time goes: a sampler read every thread's stack every 5 ms ({p.samples} thread samples, "
        f"{p.busy} busy; the rest waited on sockets or locks). Busy samples by part of the system:",
        "",
        "| part | share of busy samples |",
        "| --- | --- |",
    ]
    out += [f"| {part} | {n / p.busy:.0%} |" for part, n in p.by_part.most_common()]
    out += ["", "Hottest functions (innermost frame, busy samples):", "", "| function | share |", "| --- | --- |"]
    out += [f"| `{fn}` | {n / p.busy:.1%} |" for fn, n in p.by_function.most_common(10)]
    out += [
        "",
        "Most of the time is moto's: its server resolves the backend for every request (`get_application`, "
        "`list_of_moto_modules`, which stats directories) and answers each on a new connection. Our handlers and "
        "Powertools are a few percent. The local stack's rate is moto's, not the pipeline's; in AWS each "
        "function scales out on its own.",
    ]
    return out


def _render_sizes(artifacts: list[sizes.Artifact]) -> list[str]:
    out = [
        "",
        "## Deployment size (`sam build`)",
        "",
        "| artifact | files | unzipped | zipped | of which bytecode (unzipped) | ships boto3? |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {a.name} | {a.files} | {a.unzipped_bytes / 1024:.1f} KiB | {a.zipped_bytes / 1024:.1f} KiB "
        f"| {a.bytecode_bytes / 1024:.1f} KiB | {'**yes**' if a.ships_boto3 else 'no'} |"
        for a in artifacts
    ]
    out += ["", "boto3 comes with the Lambda runtime; the layer ships Powertools and mutagen only."]
    return out


def _render_cost(box: containers.ContainerResults, c: calls.CallCounts, t: throughput.Throughput) -> list[str]:
    memory = int(template.load()["Globals"]["Function"]["MemorySize"])
    submit_wall = statistics.median(box.ours["submit"].warm_wall_ms)
    webhook_wall = statistics.median(box.ours["webhook"].warm_wall_ms)
    submit_calls = sum(n for (f, s, _), n in c.calls.items() if f == "submit" and s != "secrets-manager") / c.jobs
    lines = cost.estimate(
        submit_invocations_per_job=c.invocations["submit"] / c.jobs,
        submit_ms_per_job=submit_wall,
        webhook_ms=webhook_wall,
        memory_mb=memory,
        # The rate counter's writes are table writes too (one unit each, no index attribute).
        table_writes_per_job=c.by(lambda f, s, op: s in ("dynamodb", calls.RATE_COUNTER) and op in calls.WRITES)
        / c.jobs,
        result_item_bytes=c.result_item_bytes,
        transactions_per_job=c.by(lambda f, s, op: s == "dynamodb" and op == "TransactWriteItems") / c.jobs,
        s3_gets_per_job=c.calls[("submit", "s3", "GetObject")] / c.jobs,
        aws_calls_submit_per_job=submit_calls,
        log_bytes_per_job=t.log_bytes / t.uploads,
        sqs_batch=c.jobs / max(1, c.invocations["submit"]),
        events_invocations_per_job=c.invocations.get("events", 0) / c.jobs,
    )
    total = sum(line.per_million for line in lines)
    out = [
        "",
        "## AWS cost per million voiceprints",
        "",
        f"From the counts above, {memory} MB arm64 functions (the template's), us-east-1 list prices without free "
        "tier (`bench/cost.py`; check them against aws.amazon.com/pricing). Assumed where one machine cannot "
        "measure: "
        + ", ".join(f"{k} = {v}" for k, v in cost.ASSUMED.items())
        + ". pyannoteAI's own price per job is not included.",
        "",
        "| item | per job | unit price | per million jobs | basis |",
        "| --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {line.item} | {line.quantity_per_job:.6g} | ${line.unit_price:.3g} | ${line.per_million:,.2f} "
        f"| {line.basis} |"
        for line in lines
    ]
    out += [
        f"| **total** | | | **${total:,.2f}** | |",
        "",
        f"**Per job: ${total / 1e6:.6f}** of AWS, before pyannoteAI's own price. The budget's share is its "
        f"transaction: {cost.BUDGET_ITEMS_VOICEPRINT} items at {cost.TRANSACTION_WRU_PER_ITEM} write units, "
        f"${cost.BUDGET_ITEMS_VOICEPRINT * cost.TRANSACTION_WRU_PER_ITEM * cost.PRICES['dynamodb_wru'] * 1e6:.2f} "
        "per million jobs (an identification's dedup marker adds one item), a small price for a ceiling on what "
        "uploads can make the stack, and the vendor's bill, grow to.",
        "",
        "Fixed monthly costs are apart: two secrets ($0.40 each), the reconciler's schedule (one invocation a "
        "few minutes, cents), the alarms, and PITR storage.",
    ]
    return out


if __name__ == "__main__":
    sys.exit(main())
