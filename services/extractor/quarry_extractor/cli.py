"""The extract process: `quarry extract --run-id ID` (what the extract pod runs)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from quarry_core.errors import RetriableError
from quarry_core.exit_codes import EXIT_TERMINATED
from quarry_core.logs import configure_logging
from quarry_extractor.runner import Extraction
from quarry_extractor.settings import ExtractorSettings


def main(run_id: int) -> int:
    settings = ExtractorSettings()
    configure_logging(settings)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        # Finish the page in hand, checkpoint, exit 143: the next attempt resumes after it.
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    try:
        extraction = Extraction(settings, run_id, stop=stop)
    except RetriableError:
        if stop.is_set():  # stopped while waiting for the database: nothing to checkpoint
            return EXIT_TERMINATED
        raise
    return extraction.run()
