"""The extractor's and the workers' fixtures, for the start-up outage tests."""

from tests.extractor.conftest import jira_factory, make_run, make_settings  # noqa: F401
from tests.workers.conftest import (  # noqa: F401
    backend,
    factory,
    jira_source,
    open_queue,
    platform,
    queue,
    worker_factory,
)
