"""The embed stage: runs never wait for it; it catches up, re-embeds changed rows, survives a restart."""

from __future__ import annotations

import copy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import text

from quarry_core.vectors import HashingEmbedder, StoreBusy, VectorStore, embedding_progress
from quarry_workers.embed_worker import EmbedWorker
from tests.workers.conftest import Platform
from tests.workers.fixtures import JiraSource
from tests.workers.test_pipeline import _seed_jira_run

pytestmark = pytest.mark.parametrize("backend", ["pg"])  # the queue is not what is tested here


def _catch_up(worker: EmbedWorker) -> int:
    total = 0
    while n := worker.run_once():
        total += n
    return total


def test_run_succeeds_without_vectors_then_embed_catches_up_and_follows_changes(
    platform: Platform, jira_source: JiraSource, tmp_path: Path
) -> None:
    run_id, _ = _seed_jira_run(platform, jira_source, mode="incremental")
    platform.drain()
    assert platform.run(run_id).phase == "Succeeded"  # no embed worker exists yet
    with platform.factory() as s:
        assert embedding_progress(s, platform.tenant).pending == {"work_item": 33, "pull_request": 0}

    store = VectorStore(HashingEmbedder(), url=None, path=tmp_path / "qdrant")
    try:
        worker = EmbedWorker(platform.factory, store, batch_size=10, tenant=platform.tenant)
        assert _catch_up(worker) == 33
        with platform.factory() as s:
            progress = embedding_progress(s, platform.tenant)
        assert (progress.total_pending, progress.total_embedded) == (0, 33)
        assert worker.report_progress(force=True)["embedded"] == 33
        assert store.count(platform.tenant) == 33
        hits = store.search(platform.tenant, jira_source.summary(0), limit=3)
        assert hits and all(h["tenant"] == platform.tenant for h in hits)
        assert store.search("someone-else", "modularity", limit=3) == []

        # The first issue's title changes, the second arrives again unchanged: only the first is
        # pending, then re-embedded
        ee1, ee2 = (copy.deepcopy(i) for i in jira_source.issues[:2])
        ee1["fields"]["summary"] = "Zanzibar quokka telemetry"
        second = platform.start_run("incremental")
        platform.add_page(second, "issues", {"issues": [ee1, ee2]})
        platform.finish_extract(second)
        platform.drain()
        assert platform.run(second).phase == "Succeeded"
        with platform.factory() as s:
            assert embedding_progress(s, platform.tenant).pending["work_item"] == 1
        assert _catch_up(worker) == 1
        top = store.search(platform.tenant, "zanzibar quokka telemetry", limit=1)
        assert top[0]["key"] == ee1["key"] and "Zanzibar" in top[0]["text"]
        assert store.count(platform.tenant) == 33
    finally:
        store.close()


def test_vectors_of_rows_a_full_refresh_deleted_are_removed(
    platform: Platform, jira_source: JiraSource, tmp_path: Path
) -> None:
    _seed_jira_run(platform, jira_source, mode="incremental")
    platform.drain()
    store = VectorStore(HashingEmbedder(), url=None, path=tmp_path / "qdrant")
    try:
        worker = EmbedWorker(platform.factory, store, batch_size=10, tenant=platform.tenant)
        _catch_up(worker)
        assert store.count(platform.tenant) == 33
        # A full refresh where the source has only two issues left: 31 rows go, and their vectors.
        survivors = jira_source.issues[:2]
        full = platform.start_run("full")
        platform.add_page(full, "issues", {"issues": survivors})
        platform.finish_extract(full)
        platform.drain()
        assert platform.run(full).phase == "Succeeded"
        _catch_up(worker)
        assert store.count(platform.tenant) == 2
        keys = {h["key"] for h in store.search(platform.tenant, jira_source.summary(5), limit=10)}
        assert keys <= {i["key"] for i in survivors}
        with platform.factory() as s:
            left = text("select count(*) from vector_deletions where tenant = :t")
            assert s.execute(left, {"t": platform.tenant}).scalar_one() == 0
    finally:
        store.close()


def test_an_idle_worker_lets_go_of_the_local_directory(
    platform: Platform, jira_source: JiraSource, tmp_path: Path
) -> None:
    """Qdrant local mode locks its directory: an idle worker releases it, so the API can search, and
    takes it again (waiting for the API's request to end) when rows arrive."""
    run_id, _ = _seed_jira_run(platform, jira_source, mode="incremental")
    platform.drain()
    assert platform.run(run_id).phase == "Succeeded"
    path = tmp_path / "qdrant"
    store = VectorStore(HashingEmbedder(), url=None, path=path)
    worker = EmbedWorker(platform.factory, store, batch_size=10, tenant=platform.tenant)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), kwargs={"idle": 0.05, "release_after": 0.2})
    thread.start()
    try:
        _wait(lambda: worker.embedded == 33, 30, "the backlog embedded")
        reader = VectorStore(HashingEmbedder(), url=None, path=path, lock_wait=5)
        try:
            assert reader.count(platform.tenant) == 33
            hits = reader.search(platform.tenant, jira_source.summary(3), limit=3)
            assert jira_source.issues[3]["key"] in {h["key"] for h in hits}
        finally:
            reader.close()
        # While another client holds it past a short wait, opening reports the store as busy.
        holder = VectorStore(HashingEmbedder(), url=None, path=path, lock_wait=5)
        try:
            with pytest.raises(StoreBusy):
                VectorStore(HashingEmbedder(), url=None, path=path, lock_wait=0.1)
        finally:
            holder.close()
        # A row to embed again: the worker opens the directory once more and writes it.
        with platform.factory() as s:
            s.execute(
                text("UPDATE work_items SET embedded_at = NULL WHERE tenant = :t AND key = :k"),
                {"t": platform.tenant, "k": jira_source.issues[0]["key"]},
            )
            s.commit()
        _wait(lambda: worker.embedded == 34, 30, "the changed row embedded again")
    finally:
        stop.set()
        thread.join(10)
        store.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_embed_worker_process_survives_sigkill_and_reports_progress(
    platform: Platform, jira_source: JiraSource, tmp_path: Path, database_url: str
) -> None:
    run_id, _ = _seed_jira_run(platform, jira_source, mode="incremental")
    platform.drain()
    assert platform.run(run_id).phase == "Succeeded"
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "QUARRY_DATA_DIR": str(tmp_path),
        "QUARRY_EMBEDDER": "hashing",
        "QUARRY_EMBED_BATCH_SIZE": "8",
        "QUARRY_HEALTH_PORT": str(port),
    }

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "quarry_cli.main", "worker", "embed"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def embedded(tenant: str | None) -> int:
        with platform.factory() as s:
            return embedding_progress(s, tenant).total_embedded

    proc = start()
    try:
        # Other tests' rows (older ids) are pending too: kill once this process has made progress.
        before = embedded(None)
        _wait(lambda: embedded(None) > before, 30, "progress")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc = start()
        _wait(lambda: embedded(platform.tenant) == 33, 60, "the restarted worker to catch up")
        metrics = ""

        def scraped() -> bool:
            nonlocal metrics
            try:
                metrics = (
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
                )
            except OSError:
                return False
            return "quarry_vectors_embedded{kind=\"work_item\"}" in metrics

        _wait(scraped, 15, "/metrics with the progress gauges")
        assert 'quarry_vectors_pending{kind="pull_request"}' in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    store = VectorStore(HashingEmbedder(), url=None, path=tmp_path / "qdrant")
    try:
        assert store.count(platform.tenant) == 33  # nothing lost, nothing doubled across the kill
    finally:
        store.close()
