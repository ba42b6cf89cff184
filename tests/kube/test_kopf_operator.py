"""A tiny kopf operator runs end to end against the emulator, exactly as in production (CLI)."""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any

import kopf
import kubernetes.client
import kubernetes.config
from kopf.testing import KopfRunner

from tests.kube.harness import KubeHandle

GROUP, VERSION, PLURAL = 'test.quarry.dev', 'v1alpha1', 'etljobs'
FINALIZER = 'test.quarry.dev/finalizer'
BAD_LOG_WORDS = ('inconsistencies', 'Throttling', 'Traceback', 'APIServerError')

registry = kopf.OperatorRegistry()
deleted: list[str] = []
deleted_lock = threading.Lock()


@kopf.on.login(registry=registry)
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # A bare OperatorRegistry has no implicit login handlers; use the kubeconfig as production does.
    return kopf.login_via_client(**kwargs)


@kopf.on.startup(registry=registry)
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.finalizer = FINALIZER
    # Status fields outside the CRD schema are pruned by the API server (and by the emulator):
    # kopf's default status-based storage would then report "inconsistencies".
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key='last-handled-configuration')
    settings.watching.server_timeout = 10


@kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
def create_extract_job(body: kopf.Body, namespace: str, name: str, patch: kopf.Patch,
                       logger: kopf.Logger, **_: Any) -> None:
    job: dict[str, Any] = {
        'apiVersion': 'batch/v1', 'kind': 'Job',
        'metadata': {'name': f'{name}-extract'},
        'spec': {'template': {'spec': {'restartPolicy': 'Never', 'containers': [
            {'name': 'extract', 'image': 'quarry/extractor', 'args': [body.spec['source']]}]}}},
    }
    kopf.adopt(job, owner=body)
    batch = kubernetes.client.BatchV1Api(kubernetes.config.new_client_from_config())
    batch.create_namespaced_job(namespace, job)
    patch.status['phase'] = 'Running'
    logger.info(f'extract job {name}-extract created')
    kopf.info(body, reason='ExtractJobCreated', message=f'extract job {name}-extract created')


@kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry)
def forget(name: str, **_: Any) -> None:
    with deleted_lock:
        deleted.append(name)


def test_kopf_operator_end_to_end(kube: KubeHandle) -> None:
    args = ['run', '--standalone', '--verbose', '--namespace', 'default']
    with KopfRunner(args, registry=registry, timeout=30) as runner:
        kube.custom_objects.create_namespaced_custom_object(GROUP, VERSION, 'default', PLURAL, {
            'apiVersion': f'{GROUP}/{VERSION}', 'kind': 'EtlJob', 'metadata': {'name': 'nightly'},
            'spec': {'source': 'jira', 'mode': 'full'}})

        owner = kube.wait_for_object(
            'etljobs', 'default', 'nightly',
            lambda o: o.get('status', {}).get('phase') == 'Running' and FINALIZER in o['metadata'].get(
                'finalizers', []))
        job = kube.wait_for_object('jobs', 'default', 'nightly-extract')
        assert job['metadata']['ownerReferences'][0]['uid'] == owner['metadata']['uid']
        kube.complete_job('default', 'nightly-extract')
        kube.wait_for(lambda: [e for e in kube.list('v1/events', 'default')
                               if 'nightly-extract created' in e.get('message', '')])

        kube.custom_objects.delete_namespaced_custom_object(GROUP, VERSION, 'default', PLURAL, 'nightly')
        kube.wait_for_absence('etljobs', 'default', 'nightly')
        kube.wait_for_absence('jobs', 'default', 'nightly-extract')  # garbage-collected
        assert 'nightly' in deleted

    assert runner.exit_code == 0 and runner.exception is None
    for word in BAD_LOG_WORDS:
        assert word not in runner.output, f'{word!r} in the operator log:\n{runner.output}'
    assert "Handler 'create_extract_job' succeeded" in runner.output
    assert "Handler 'forget' succeeded" in runner.output


def test_kopf_operator_with_many_objects_and_racing_writes(kube: KubeHandle) -> None:
    names = [f'job-{index:02d}' for index in range(20)]
    args = ['run', '--standalone', '--verbose', '--namespace', 'default']
    with KopfRunner(args, registry=registry, timeout=30) as runner, \
            concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        def create_and_race(name: str) -> None:
            kube.custom_objects.create_namespaced_custom_object(GROUP, VERSION, 'default', PLURAL, {
                'apiVersion': f'{GROUP}/{VERSION}', 'kind': 'EtlJob', 'metadata': {'name': name},
                'spec': {'source': 'github', 'mode': 'incremental'}})
            for round_ in range(3):  # writes by "someone else" while the operator works
                kube.patch('etljobs', 'default', name, {'metadata': {'labels': {'round': str(round_)}}})

        list(pool.map(create_and_race, names))
        for name in names:
            kube.wait_for_object('etljobs', 'default', name,
                                 lambda o: o.get('status', {}).get('phase') == 'Running')
            kube.wait_for_object('jobs', 'default', f'{name}-extract')
        list(pool.map(lambda name: kube.delete('etljobs', 'default', name), names))
        for name in names:
            kube.wait_for_absence('etljobs', 'default', name)
        assert kube.list('jobs', 'default') == []

    assert runner.exit_code == 0 and runner.exception is None
    for word in BAD_LOG_WORDS:
        assert word not in runner.output, f'{word!r} in the operator log:\n{runner.output}'
