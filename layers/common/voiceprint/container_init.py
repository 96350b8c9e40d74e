"""A Lambda container's init without the cyclic garbage collector: paused while the handler module imports and
makes its clients, then everything init made is frozen out of later collections.

Why: init allocates tens of thousands of tracked objects (modules, functions, botocore's service models) that live
as long as the container, and the collector ran some 80 times over them while they were imported: about a tenth
of a cold start, ours or a raw-boto3 floor's alike (docs/BENCHMARKS.md). Frozen, they are not scanned again, so
the collections of warm invocations are shorter too. The price: the few hundred unreachable objects that init
leaves (about 450 here) stay for the container's life, which is what a `gc.collect()` to free them would cost in
time.

Only in a Lambda container (`AWS_EXECUTION_ENV` is `AWS_Lambda_*`), whose process is this function's alone. The
local stack and the tests import the handlers into one shared process, whose collector and heap are not ours to
pause or freeze; there, both calls do nothing.
"""

from __future__ import annotations

import gc
import os

LAMBDA_EXECUTION_ENV_PREFIX = "AWS_Lambda_"  # Lambda sets AWS_EXECUTION_ENV to e.g. AWS_Lambda_python3.12


def begin() -> bool:
    """Pause the collector if this process is a Lambda container's; say whether it did."""
    if not os.environ.get("AWS_EXECUTION_ENV", "").startswith(LAMBDA_EXECUTION_ENV_PREFIX):
        return False
    gc.disable()
    return True


def finish(paused: bool) -> None:
    """End of init: freeze what init made and resume collecting, if `begin` paused. An init that raises never gets
    here: the runtime reports the init error and, but for an ImportError, ends the process. After an ImportError (a
    broken build) it keeps the container and answers every invocation with that error, the collector still paused:
    a few kilobytes of garbage per failed invocation until Lambda recycles the container."""
    if paused:
        gc.freeze()
        gc.enable()
