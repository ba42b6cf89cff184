"""The extractor's HTTP client at its edges, against real local HTTP servers: credentials go only to
the Integration's origin, a truncated page is asked again, an oversized one fails clearly."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine

from quarry_core.errors import FatalError, RetriableError
from quarry_core.sources import get_source
from quarry_extractor.http import ApiRequest, HttpClient, RetryPolicy
from quarry_extractor.runner import EXIT_FATAL, Extraction
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraServer
from tests.extractor.conftest import JIRA_CREDS, MakeRun, MakeSettings, jira_spec, run_row

AUTH = {"Authorization": "Bearer s3cr3t-token"}


class Server:
    """A tiny HTTP server: `routes[path] -> list of (status, headers, body)` answered in turn."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
        self.seen: list[tuple[str, str | None]] = []  # (path, Authorization)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.seen.append((self.path, self.headers.get("Authorization")))
                answers = server.routes.get(self.path.split("?")[0]) or [(404, {}, b"{}")]
                status, headers, body = answers.pop(0) if len(answers) > 1 else answers[0]
                self.send_response(status)
                for k, v in {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                    **headers,
                }.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def home() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


@pytest.fixture
def elsewhere() -> Iterator[Server]:
    s = Server("127.0.0.2")  # another host: another origin
    yield s
    s.close()


def client(base: str, **policy: Any) -> HttpClient:
    return HttpClient(
        get_source("github"),
        base,
        AUTH,
        RetryPolicy(backoff_base=0.01, backoff_cap=0.02, **policy),
        allow_private=True,
    )


def test_a_next_page_link_to_another_host_fails_naming_it(home: Server, elsewhere: Server) -> None:
    c = client(home.url)
    with pytest.raises(FatalError, match=f"points to {elsewhere.url}"):
        c.send(ApiRequest("GET", f"{elsewhere.url}/repos/acme/api/pulls?page=2"))
    assert elsewhere.seen == []


def test_redirects_are_followed_at_home_only(home: Server, elsewhere: Server) -> None:
    home.routes["/moved"] = [(301, {"Location": "/here"}, b"")]
    home.routes["/here"] = [(200, {}, b'{"ok": true}')]
    home.routes["/away"] = [(302, {"Location": f"{elsewhere.url}/steal"}, b"")]
    c = client(home.url)
    assert c.send(ApiRequest("GET", "/moved")).body == {"ok": True}
    assert ("/here", AUTH["Authorization"]) in home.seen
    with pytest.raises(FatalError, match=rf"a redirect from .* points to {elsewhere.url}"):
        c.send(ApiRequest("GET", "/away"))
    assert elsewhere.seen == []  # the token never left its host


def test_a_truncated_page_is_asked_again(home: Server) -> None:
    home.routes["/pulls"] = [(200, {}, b'[{"number": 1, "title": "cut he'), (200, {}, b'[{"number": 1}]')]
    resp = client(home.url).send(ApiRequest("GET", "/pulls"))
    assert resp.body == [{"number": 1}]
    assert len(home.seen) == 2


def test_a_page_that_stays_truncated_ends_the_attempt_not_the_run(home: Server) -> None:
    home.routes["/pulls"] = [(200, {}, b"<html>proxy error")]
    with pytest.raises(RetriableError, match="not JSON"):
        client(home.url, max_attempts=2).send(ApiRequest("GET", "/pulls"))


def test_an_oversized_response_fails_with_the_limit_named(home: Server) -> None:
    home.routes["/huge"] = [(200, {}, b"[" + b'"x",' * 600 + b'"x"]')]
    with pytest.raises(FatalError, match=r"larger than 1024 bytes .*QUARRY_EXTRACT_MAX_RESPONSE_BYTES"):
        client(home.url, max_response_bytes=1024).send(ApiRequest("GET", "/huge"))


def test_a_run_against_a_private_address_fails_when_the_platform_refuses_them(
    engine: Engine, make_run: MakeRun, make_settings: MakeSettings, jira_factory: Callable[..., JiraServer]
) -> None:
    server = jira_factory(JiraDataset.synthetic(5, projects=1, seed=3))
    run_id = make_run(jira_spec(server, ["P1"]), JIRA_CREDS, entities=["issues"])
    assert Extraction(make_settings(egress_allow_private=False), run_id).run() == EXIT_FATAL
    run = run_row(engine, run_id)
    assert run.phase == "Failed" and "127.0.0.1, a private address" in (run.error or "")
    assert sum(server.counters.by_status.values()) == 0
