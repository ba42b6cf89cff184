"""Requests sent ahead: the first few work items of a run are fetched at once.

Work items at the head of the checkpoint are independent of each other (each is the next request
of a different stream instance: a changelog bulkfetch of the issues already seen, the next search
page of one project, a board's sprints), so they may be in flight together, and the runner
consumes whichever answered first (`pick`): the search walks of several projects proceed side by
side. Only the page sequence inside one stream is sequential (search/jql tokens), and that is kept
because a stream's next page exists only after its current page was parsed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait

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
        self.near_limit = False
        if self.window > 1:
            for n in range(self.window):
                # Daemon threads: one sitting out a long rate-limit wait must not hold the exit.
                t = threading.Thread(target=self._work, name=f"fetch-{n}", daemon=True)
                t.start()
                self._threads.append(t)

    def ahead(self, work: Sequence[WorkItem]) -> None:
        """Send the first `window` items of `work` that are not in flight yet (held ones wait).

        Near the server's rate limit (Jira's `X-RateLimit-NearLimit: true`) nothing goes ahead:
        one request at a time until a response no longer says so."""
        if self.window <= 1 or not self._proven or self.near_limit:
            return
        for item in [w for w in work if not w.held][: self.window]:
            if id(item) not in self._inflight:
                future: Future[ApiResponse] = Future()
                self._inflight[id(item)] = (item, future)
                self._jobs.put((item, future))

    def pick(self, work: Sequence[WorkItem]) -> int:
        """The index in `work` of the item to consume next: the first of the items in flight whose
        response is in (waiting for the first to come), so that one slow stream does not hold up
        the others; the first ready item when nothing is in flight."""
        ready = [n for n, w in enumerate(work) if not w.held]
        inflight = [n for n in ready if id(work[n]) in self._inflight]
        if not inflight:
            return ready[0]
        futures = [self._inflight[id(work[n])][1] for n in inflight]
        wait(futures, return_when=FIRST_COMPLETED)
        return next(n for n, f in zip(inflight, futures, strict=True) if f.done())

    def take(self, item: WorkItem) -> ApiResponse:
        """The response to `item` (waiting for it, or sending it now if it was not sent ahead)."""
        job = self._inflight.pop(id(item), None)
        response = self.http.send(item.request) if job is None else job[1].result()
        self._proven = True
        self.near_limit = (response.header("x-ratelimit-nearlimit") or "").lower() == "true"
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
