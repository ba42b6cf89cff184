"""A PostgreSQL outage in the middle of an extraction costs no attempt: the process backs off and
resumes, and every page is stored once. The real `quarry extract` process reaches the database
through a TCP proxy (127.0.0.1 only) that the test cuts, never the shared server."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Engine

from quarry_extractor.runner import EXIT_OK
from quarry_sandbox.jira_data import JiraDataset
from tests.extractor.conftest import JIRA_CREDS, MakeRun, jira_spec, raw_pages, run_row
from tests.extractor.test_resume_and_budget import (
    JiraFactory,
    assert_every_issue_once,
    slow,
    start_extract,
    wait_for_pages,
)
from tests.support.proxy import Proxy


def test_a_database_outage_mid_run_is_waited_out(
    engine: Engine, database_url: str, queue_prefix: str, make_run: MakeRun, jira_factory: JiraFactory
) -> None:
    ds = JiraDataset.synthetic(400, projects=1, seed=22)
    server = jira_factory(ds)
    slow(server, 0.01)
    run_id = make_run(jira_spec(server, [ds.projects[0].key]), JIRA_CREDS, entities=["issues"])
    url = urlsplit(database_url)
    proxy = Proxy((url.hostname or "127.0.0.1", url.port or 5432))
    user = url.netloc.rsplit("@", 1)[0] + "@" if "@" in url.netloc else ""
    proxied = urlunsplit(url._replace(netloc=f"{user}127.0.0.1:{proxy.port}"))
    proc = start_extract(proxied, queue_prefix, run_id)
    try:
        wait_for_pages(engine, run_id, 6, proc)
        proxy.cut()  # the database "restarts": connections drop, new ones are refused
        time.sleep(3)
        during = len(raw_pages(engine, run_id, "issues"))
        assert during < 40 and proc.poll() is None  # mid-run, and the process waits
        proxy.restore()
        out = proc.communicate(timeout=120)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        proxy.close()
    assert proc.returncode == EXIT_OK, out
    assert "unavailable" in out
    run = run_row(engine, run_id)
    assert run.attempt == 1 and run.attempt_error is None and run.error is None
    assert run.extract_finished_at is not None
    assert_every_issue_once(engine, run_id, ds)
