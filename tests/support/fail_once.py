"""A test plugin (a workflow config's ``plugins:``) that makes the first train job fail.

While the environment variable ``NEURAL_MI_FAIL_ONCE`` names a file that does not exist,
the first ``neural-mi train-tasks`` that loads this plugin creates the file (atomically: of
several concurrent jobs exactly one does) and fails; every later job runs normally.  The
workflow tests use it to check that a failed train job is resubmitted with more resources.
It lives in the tests, not in the package: the product has no test hooks.
"""

from __future__ import annotations

import os
import sys

ENV_VAR = "NEURAL_MI_FAIL_ONCE"


def fail_once() -> None:
    """Fail this train job if it is the first one to see the marker missing."""
    marker = os.environ.get(ENV_VAR)
    if not marker or "train-tasks" not in sys.argv:
        return
    try:
        with open(marker, "x"):
            pass
    except FileExistsError:
        return
    raise RuntimeError(
        f"test plugin {ENV_VAR}: created {marker!r} and failed this attempt on purpose; the "
        "next attempt trains."
    )


fail_once()
