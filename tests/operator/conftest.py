"""The operator as production runs it (kopf's CLI, `-m quarry_operator.handlers`) against the
Kubernetes API emulator of tests/kube, with the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import pytest
from kopf.testing import KopfRunner

from quarry_core.queue.rabbit import RabbitQueue
from quarry_operator.k8s import API_CALLS, USER_AGENT
from quarry_sandbox.jira_data import JiraDataset
from quarry_sandbox.jira_server import JiraServer
from tests.kube.emulator import parse_path
from tests.kube.harness import KubeHandle, run_emulator

BAD_LOG_WORDS = ("inconsistencies", "Throttling", "Traceback", "APIServerError")
GROUP, VERSION = "quarry.dev", "v1alpha1"


def operator_calls(kube: KubeHandle, namespace: str | None = None) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) of every resource request kopf or the operator's client made
    (in `namespace` only, when given)."""
    calls = set()
    for request in list(kube.emulator._requests):
        agent = request.headers.get("User-Agent", "")
        parsed = parse_path(request.url.path)
        if not agent.startswith(("kopf/", USER_AGENT)) or parsed is None or parsed.plural is None:
            continue
        if namespace is not None and parsed.namespace != namespace:
            continue
        method, query = request.method.value.upper(), request.url.query
        if parsed.watch or query.get("watch") in ("true", "1"):
            verb = "watch"
        elif method == "GET":
            verb = "get" if parsed.name else "list"
        else:
            verb = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[method]
        resource = f"{parsed.plural}/{parsed.subresource}" if parsed.subresource else parsed.plural
        calls.add((parsed.group, resource, verb))
    return calls


@pytest.fixture(scope="session")
def jira() -> Iterator[JiraServer]:
    with JiraServer(JiraDataset.synthetic(20, projects=1, seed=1)) as server:
        yield server


@pytest.fixture
def namespace() -> str:
    return f"op-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def kube(namespace: str) -> Iterator[KubeHandle]:
    with run_emulator(namespaces=("default", namespace)) as handle:
        yield handle


@pytest.fixture
def operator_env(
    monkeypatch: pytest.MonkeyPatch, database_url: str, amqp_url: str, queue_prefix: str, namespace: str
) -> Iterator[dict[str, str]]:
    env = {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "QUARRY_QUEUE_PREFIX": queue_prefix,
        "QUARRY_WORKERS_NAMESPACE": namespace,
        "QUARRY_IMAGE": "quarry:test",
        "QUARRY_OPERATOR_METRICS_PORT": "0",
        "QUARRY_OPERATOR_SCALE_POLLING_SECONDS": "0.25",
        "QUARRY_OPERATOR_ACTIVE_RESYNC_SECONDS": "1",
        "QUARRY_OPERATOR_RESYNC_SECONDS": "5",
        "QUARRY_OPERATOR_STATUS_PUBLISH_SECONDS": "1",
        "QUARRY_CHECK_TIMEOUT": "2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env
    with contextlib.suppress(Exception):
        queue = RabbitQueue(amqp_url, prefix=queue_prefix)
        queue.delete_topology()
        queue.close()


@pytest.fixture
def run_operator(
    kube: KubeHandle, operator_env: dict[str, str], namespace: str
) -> Callable[..., contextlib.AbstractContextManager[KopfRunner]]:
    """Start `kopf run --standalone -m quarry_operator.handlers --namespace NS`; on exit, check its log."""

    @contextlib.contextmanager
    def start(*also_watch: str, **env: str) -> Iterator[KopfRunner]:
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            args = ["run", "--standalone", "-m", "quarry_operator.handlers", "--namespace", namespace]
            for other in also_watch:
                args += ["--namespace", other]
            with KopfRunner(args, timeout=30) as runner:
                yield runner
        assert runner.exception is None, runner.output
        assert runner.exit_code == 0, runner.output
        for word in BAD_LOG_WORDS:
            assert word not in runner.output, f"{word!r} in the operator log:\n{runner.output}"
        calls = operator_calls(kube)
        assert ("quarry.dev", "etljobs", "watch") in calls  # the check sees the operator's traffic
        unlisted = calls - API_CALLS
        assert not unlisted, f"API calls missing from quarry_operator.k8s.API_CALLS (and RBAC): {unlisted}"

    return start
