"""Requests sent ahead: the first few work items of a run are fetched at once.

Work items at the head of the checkpoint are independent of each other (each is the next request
of a different stream instance: a changelog bulkfetch of the issues already seen, the next search
page, a board's sprints), so they may be in flight together while the runner still consumes them
strictly in order. Only the page sequence inside one stream is sequential (search/jql tokens),
and that is kept because a stream's next page exists only after its current page was parsed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from quarry_extractor.http import ApiResponse, HttpClient
from quarry_extractor.streams import WorkItem

_Job = tuple[WorkItem, "Future[ApiResponse]"]


class Fetcher:
    def __init__(self, http: HttpClient, window: int) -> None:
        self.http = http
        self.window = max(1, window)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # id(item) -> (item, future); the item is kept so its id cannot be reused meanwhile.
        self._inflight: dict[int, _Job] = {}
        self._threads = []
        # Nothing goes ahead until one response came back: wrong credentials or a wrong URL
        # then cost one request, not a window of them.
        self._proven = False
        if self.window > 1:
            for n in range(self.window):
                # Daemon threads: one sitting out a long rate-limit wait must not hold the exit.
                t = threading.Thread(target=self._work, name=f"fetch-{n}", daemon=True)
                t.start()
                self._threads.append(t)

    def ahead(self, work: Sequence[WorkItem]) -> None:
        """Send the first `window` items of `work` that are not in flight yet (held ones wait)."""
        if self.window <= 1 or not self._proven:
            return
        for item in [w for w in work if not w.held][: self.window]:
            if id(item) not in self._inflight:
                future: Future[ApiResponse] = Future()
                self._inflight[id(item)] = (item, future)
                self._jobs.put((item, future))

    def take(self, item: WorkItem) -> ApiResponse:
        """The response to `item` (waiting for it, or sending it now if it was not sent ahead)."""
        job = self._inflight.pop(id(item), None)
        response = self.http.send(item.request) if job is None else job[1].result()
        self._proven = True
        return response

    def close(self) -> None:
        """Stop the workers; requests still in flight are abandoned (their pages never stored)."""
        for _ in self._threads:
            self._jobs.put(None)
        for _, future in self._inflight.values():
            future.cancel()
        self._inflight.clear()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            item, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self.http.send(item.request))
            except BaseException as exc:  # handed to the runner thread
                future.set_exception(exc)
