"""Run the emulator in a background thread and hand tests a kubeconfig and clients for it.

Usage from any test package (the pytest fixtures in tests/kube/conftest.py wrap the same)::

    from tests.kube.harness import run_emulator

    with run_emulator() as kube:                      # crds/ of the repository is loaded
        kube.core_v1.list_namespace()                 # the official client, via kube.api_client
        subprocess.run(['kubectl', '--kubeconfig', str(kube.kubeconfig_path), 'get', 'ns'])
        job = kube.wait_for_object('batch/v1/jobs', 'default', 'extract-1')
        kube.complete_job('default', 'extract-1')     # what the Job controller would do

The emulator needs its own thread and event loop: a synchronous client call made from a loop
that also hosts the server would deadlock.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime
import os
import pathlib
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import aiohttp.test_utils
import kubernetes.client
import kubernetes.config
import kubernetes.config.kube_config
import yaml

from tests.kube.emulator import DEFAULT_CRD_DIRS, ApiError, KubernetesEmulator

T = TypeVar('T')
CONTEXT_NAME = 'quarry-emulator'


def write_kubeconfig(path: pathlib.Path, url: str, *, namespace: str = 'default') -> pathlib.Path:
    config = {
        'apiVersion': 'v1',
        'kind': 'Config',
        'clusters': [{'name': CONTEXT_NAME, 'cluster': {'server': url}}],
        'users': [{'name': CONTEXT_NAME, 'user': {'token': 'emulator-token'}}],
        'contexts': [{'name': CONTEXT_NAME, 'context': {
            'cluster': CONTEXT_NAME, 'user': CONTEXT_NAME, 'namespace': namespace}}],
        'current-context': CONTEXT_NAME,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config), encoding='utf-8')
    return path


@contextlib.contextmanager
def kubeconfig_env(path: pathlib.Path) -> Iterator[None]:
    """Point $KUBECONFIG and the ``kubernetes`` client's import-time default at a kubeconfig."""
    old_env = os.environ.get('KUBECONFIG')
    old_default = kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    os.environ['KUBECONFIG'] = str(path)
    kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(path)
    try:
        yield
    finally:
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = old_default
        if old_env is None:
            os.environ.pop('KUBECONFIG', None)
        else:
            os.environ['KUBECONFIG'] = old_env


class EmulatorThread:
    """The emulator served over HTTP on 127.0.0.1 (a free port) from its own thread and loop."""

    def __init__(self, factory: Callable[[], KubernetesEmulator], *, host: str = '127.0.0.1') -> None:
        self._factory = factory
        self._host = host
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._target, name='kube-emulator', daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.emulator: KubernetesEmulator | None = None
        self.url = ''

    def start(self, timeout: float = 10) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError('the Kubernetes emulator did not start in time')
        if self._failure is not None:
            raise RuntimeError(f'the Kubernetes emulator failed to start: {self._failure}') from self._failure

    def stop(self, timeout: float = 10) -> None:
        if self.loop is not None and self._stopping is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError('the Kubernetes emulator did not stop in time')

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = 30, **kwargs: Any) -> T:
        """Run a (synchronous) emulator method inside the emulator's loop, where it is safe."""
        assert self.loop is not None

        async def run() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def _target(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as e:
            self._failure = e
        finally:
            self._ready.set()
            self.loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        emulator = self._factory()
        async with emulator:
            server = aiohttp.test_utils.RawTestServer(emulator, host=self._host, port=None)
            await server.start_server()
            self.url = str(server.make_url('')).rstrip('/')
            emulator._host_url = f'{self._host}:{server.port}'
            self.emulator = emulator
            self._ready.set()
            try:
                await self._stopping.wait()
            finally:
                emulator.close_streams()
                await asyncio.sleep(0)
                await server.close()


class KubeHandle:
    """What a test gets: the URL, a kubeconfig, an official ApiClient, and direct object access."""

    def __init__(self, thread: EmulatorThread, kubeconfig_path: pathlib.Path) -> None:
        assert thread.emulator is not None
        self._thread = thread
        self.emulator: KubernetesEmulator = thread.emulator
        self.url: str = thread.url
        self.kubeconfig_path = kubeconfig_path
        self.api_client: kubernetes.client.ApiClient = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig_path))

    # Official client APIs bound to this emulator.
    @property
    def core_v1(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api_client)

    @property
    def apps_v1(self) -> kubernetes.client.AppsV1Api:
        return kubernetes.client.AppsV1Api(self.api_client)

    @property
    def batch_v1(self) -> kubernetes.client.BatchV1Api:
        return kubernetes.client.BatchV1Api(self.api_client)

    @property
    def custom_objects(self) -> kubernetes.client.CustomObjectsApi:
        return kubernetes.client.CustomObjectsApi(self.api_client)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._thread.call(fn, *args, **kwargs)

    # Direct access: the same validation and side effects as the HTTP API, without HTTP.
    # ``resource`` is 'batch/v1/jobs', 'quarry.dev/v1alpha1/etljobs', 'jobs', 'Job', 'deploy', ...
    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.call(self.emulator.get_object, resource, namespace, name)

    def list(self, resource: str, namespace: str | None = None, *,
             label_selector: str | None = None) -> builtins.list[dict[str, Any]]:
        return self.call(self.emulator.list_objects, resource, namespace, label_selector=label_selector)

    def create(self, resource: str, body: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        return self.call(self.emulator.create_object, resource, body, namespace)

    def patch(self, resource: str, namespace: str | None, name: str, patch: Any, *,
              subresource: str | None = None, patch_type: str = 'merge') -> dict[str, Any]:
        return self.call(self.emulator.patch_object, resource, namespace, name, patch,
                         subresource=subresource, patch_type=patch_type)

    def patch_status(self, resource: str, namespace: str | None, name: str,
                     status: Mapping[str, Any]) -> dict[str, Any]:
        """Merge-patch ``.status`` through /status when the resource has it, as controllers do."""
        rt = self.call(self.emulator.resource_type, resource)
        sub = 'status' if 'status' in rt.subresources else None
        return self.patch(resource, namespace, name, {'status': dict(status)}, subresource=sub)

    def delete(self, resource: str, namespace: str | None, name: str, *,
               propagation_policy: str | None = None) -> dict[str, Any]:
        return self.call(self.emulator.delete_object, resource, namespace, name,
                         propagation_policy=propagation_policy)

    def load_crds(self, sources: Iterable[Mapping[str, Any] | str | pathlib.Path],
                  ) -> builtins.list[dict[str, Any]]:
        return self.call(self.emulator.load_crds, list(sources))

    def compact(self) -> None:
        self.call(self.emulator.compact)

    @property
    def server_errors(self) -> builtins.list[Exception]:
        """Unexpected exceptions inside the emulator (bugs or raising test reactions)."""
        return list(self.emulator._errors[-1]) if self.emulator._errors else []

    def requests(self) -> builtins.list[tuple[str, str]]:
        """(method, path?query) of every request served so far, for call-contract assertions."""
        return [(str(r.method.value), str(r.url.path_qs)) for r in list(self.emulator._requests)]

    # What controllers would do: tests drive Jobs and Deployments by hand.
    def start_job(self, namespace: str, name: str) -> dict[str, Any]:
        return self.patch_status('batch/v1/jobs', namespace, name, {
            'active': 1, 'ready': 0, 'startTime': _now()})

    def complete_job(self, namespace: str, name: str, *, succeeded: int = 1) -> dict[str, Any]:
        now = _now()
        return self.patch_status('batch/v1/jobs', namespace, name, {
            'active': None, 'ready': 0, 'succeeded': succeeded, 'completionTime': now,
            'startTime': (self._status('batch/v1/jobs', namespace, name).get('startTime') or now),
            'conditions': [
                {'type': 'SuccessCriteriaMet', 'status': 'True', 'lastProbeTime': now,
                 'lastTransitionTime': now, 'reason': 'CompletionsReached',
                 'message': 'Reached expected number of succeeded pods'},
                {'type': 'Complete', 'status': 'True', 'lastProbeTime': now,
                 'lastTransitionTime': now, 'reason': 'CompletionsReached',
                 'message': 'Reached expected number of succeeded pods'},
            ]})

    def fail_job(self, namespace: str, name: str, *, reason: str = 'BackoffLimitExceeded',
                 message: str = 'Job has reached the specified backoff limit', failed: int = 1,
                 ) -> dict[str, Any]:
        now = _now()
        return self.patch_status('batch/v1/jobs', namespace, name, {
            'active': None, 'ready': 0, 'failed': failed,
            'startTime': (self._status('batch/v1/jobs', namespace, name).get('startTime') or now),
            'conditions': [
                {'type': 'FailureTarget', 'status': 'True', 'lastProbeTime': now,
                 'lastTransitionTime': now, 'reason': reason, 'message': message},
                {'type': 'Failed', 'status': 'True', 'lastProbeTime': now,
                 'lastTransitionTime': now, 'reason': reason, 'message': message},
            ]})

    def set_job_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
        return self.patch_status('batch/v1/jobs', namespace, name, status)

    def set_deployment_ready(self, namespace: str, name: str, *, ready: int | None = None) -> dict[str, Any]:
        """Report ``ready`` (default: spec.replicas) replicas as ready, updated and available."""
        deployment = self.get('apps/v1/deployments', namespace, name)
        if deployment is None:
            raise ApiError(404, 'NotFound', f'deployments.apps "{name}" not found')
        replicas = deployment.get('spec', {}).get('replicas', 1)
        ready = replicas if ready is None else ready
        now = _now()
        return self.patch_status('apps/v1/deployments', namespace, name, {
            'observedGeneration': deployment['metadata'].get('generation', 1),
            'replicas': replicas, 'updatedReplicas': replicas,
            'readyReplicas': ready or None, 'availableReplicas': ready or None,
            'unavailableReplicas': (replicas - ready) or None,
            'conditions': [
                {'type': 'Available', 'status': 'True' if ready >= replicas else 'False',
                 'reason': 'MinimumReplicasAvailable', 'lastUpdateTime': now, 'lastTransitionTime': now},
                {'type': 'Progressing', 'status': 'True', 'reason': 'NewReplicaSetAvailable',
                 'lastUpdateTime': now, 'lastTransitionTime': now},
            ]})

    def set_deployment_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
        return self.patch_status('apps/v1/deployments', namespace, name, status)

    def _status(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        obj = self.get(resource, namespace, name)
        return dict((obj or {}).get('status') or {})

    # Waiting for the operator under test.
    def wait_for(self, probe: Callable[[], T | None], *, timeout: float = 10,
                 interval: float = 0.02) -> T:
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f'condition not met in {timeout}s; last value: {value!r}')
            time.sleep(interval)

    def wait_for_object(self, resource: str, namespace: str | None, name: str,
                        predicate: Callable[[dict[str, Any]], Any] | None = None, *,
                        timeout: float = 10) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            obj = self.get(resource, namespace, name)
            return obj if obj is not None and (predicate is None or predicate(obj)) else None
        return self.wait_for(probe, timeout=timeout)

    def wait_for_absence(self, resource: str, namespace: str | None, name: str, *,
                         timeout: float = 10) -> None:
        self.wait_for(lambda: self.get(resource, namespace, name) is None, timeout=timeout)


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


@contextlib.contextmanager
def run_emulator(
        *,
        crds: Sequence[Mapping[str, Any] | str | pathlib.Path] = (),
        crd_dirs: Sequence[str | pathlib.Path] = DEFAULT_CRD_DIRS,
        namespaces: Sequence[str] = ('default',),
        kubeconfig_path: pathlib.Path | None = None,
        set_env: bool = True,
        strict: bool = True,
        **emulator_kwargs: Any,
) -> Iterator[KubeHandle]:
    """Serve a fresh emulator; ``crd_dirs=()`` skips the repository's crds/ folder.

    With ``set_env``, $KUBECONFIG and the ``kubernetes`` client default point at it meanwhile
    (what kopf's login and kubectl read). With ``strict``, unexpected server-side exceptions fail
    the block at exit.
    """
    def factory() -> KubernetesEmulator:
        return KubernetesEmulator(crds=crds, crd_dirs=crd_dirs, seed_namespaces=namespaces,
                                  **emulator_kwargs)

    thread = EmulatorThread(factory)
    thread.start()
    with contextlib.ExitStack() as stack:
        stack.callback(thread.stop)
        if kubeconfig_path is None:
            tmpdir = stack.enter_context(tempfile.TemporaryDirectory(prefix='kube-emulator-'))
            kubeconfig_path = pathlib.Path(tmpdir) / 'kubeconfig'
        write_kubeconfig(kubeconfig_path, thread.url)
        if set_env:
            stack.enter_context(kubeconfig_env(kubeconfig_path))
        handle = KubeHandle(thread, kubeconfig_path)
        stack.callback(handle.api_client.close)
        yield handle
        if strict and handle.server_errors:
            raise AssertionError(f'the Kubernetes emulator failed internally: {handle.server_errors!r}')


__all__ = ['EmulatorThread', 'KubeHandle', 'kubeconfig_env', 'run_emulator', 'write_kubeconfig']
