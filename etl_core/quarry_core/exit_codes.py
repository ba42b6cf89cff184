"""How an extract process ends, read by whoever started it (the local controller, a Job's pod status)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_RETRY = 1  # this attempt failed for a passing reason: the run may be retried
EXIT_FATAL = 3  # the process already marked the run Failed: do not retry
EXIT_TERMINATED = 143  # stopped by SIGTERM after a checkpoint: resume later
