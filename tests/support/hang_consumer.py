"""A consumer process for crash tests: takes one message, says so, then hangs until killed.

python -m tests.support.hang_consumer pg|rabbit URL PREFIX STAGE
"""

from __future__ import annotations

import sys
import time

from quarry_core.queue.base import QueueBackend
from quarry_core.states import Stage


def open_backend(kind: str, url: str, prefix: str) -> QueueBackend:
    if kind == "pg":
        from sqlalchemy import create_engine

        from quarry_core.queue.pg import PgQueue

        return PgQueue(
            create_engine(url), prefix=prefix, max_attempts=3, retry_delay=0.2, visibility_timeout=2
        )
    from quarry_core.queue.rabbit import RabbitQueue

    return RabbitQueue(url, prefix=prefix, max_attempts=3, retry_delay=0.2)


def main() -> None:
    kind, url, prefix, stage = sys.argv[1:5]
    queue = open_backend(kind, url, prefix)
    while True:
        got = queue.receive(Stage(stage), 1, timeout=1.0)
        if got:
            print(f"got {got[0].message_id}", flush=True)
            break
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
