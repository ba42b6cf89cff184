"""One test per closed gap of kmock 0.8 (see shared/K8S-TESTING.md), via the official client."""

from __future__ import annotations

import json
import pathlib
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import kmock
import kubernetes.client
import kubernetes.watch
import pytest
from kubernetes.client import ApiException

from tests.kube.harness import KubeHandle, run_emulator

GROUP, VERSION, PLURAL = 'test.quarry.dev', 'v1alpha1', 'etljobs'


def http(kube: KubeHandle, method: str, path: str, body: Any = None, *,
         content_type: str = 'application/json', **params: str) -> tuple[int, Any]:
    query = f'?{urllib.parse.urlencode(params)}' if params else ''
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(f'{kube.url}{path}{query}', data=data, method=method,
                                     headers={'Content-Type': content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as e:
        text, status = e.read().decode(), e.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def watch_events(kube: KubeHandle, path: str, **params: str) -> list[dict[str, Any]]:
    """Read a watch stream until the server closes it (use timeoutSeconds)."""
    query = urllib.parse.urlencode({'watch': 'true', **params})
    with urllib.request.urlopen(f'{kube.url}{path}?{query}', timeout=10) as response:
        return [json.loads(line) for line in response.read().decode().splitlines() if line.strip()]


def etljob(name: str, **spec: Any) -> dict[str, Any]:
    return {'apiVersion': f'{GROUP}/{VERSION}', 'kind': 'EtlJob', 'metadata': {'name': name},
            'spec': {'source': 'jira', 'mode': 'full', **spec}}


def configmap(name: str, labels: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {'metadata': {'name': name, 'labels': labels or {}, **meta}, 'data': {'k': 'v'}}


# Gap 1
def test_create_answers_201_with_the_object(kube: KubeHandle) -> None:
    created = kube.core_v1.create_namespaced_config_map('default', configmap('cm1'))
    assert isinstance(created, kubernetes.client.V1ConfigMap)
    assert created.metadata.name == 'cm1'
    status, _ = http(kube, 'POST', '/api/v1/namespaces/default/configmaps', configmap('cm2'))
    assert status == 201


# Gap 2
def test_namespace_from_the_url_is_stored(kube: KubeHandle) -> None:
    kube.core_v1.create_namespaced_config_map('default', configmap('cm'))
    assert kube.get('configmaps', 'default', 'cm')['metadata']['namespace'] == 'default'
    with pytest.raises(ApiException) as err:
        kube.core_v1.create_namespaced_config_map('default', configmap('other', namespace='elsewhere'))
    assert err.value.status == 400


# Gap 3
def test_server_metadata_and_generation(kube: KubeHandle) -> None:
    a = kube.core_v1.create_namespaced_config_map('default', configmap('a'))
    b = kube.core_v1.create_namespaced_config_map('default', configmap('b'))
    assert a.metadata.uid and a.metadata.uid != b.metadata.uid
    assert a.metadata.creation_timestamp is not None
    assert int(b.metadata.resource_version) > int(a.metadata.resource_version)

    job = kube.custom_objects.create_namespaced_custom_object(GROUP, VERSION, 'default', PLURAL, etljob('j'))
    assert job['metadata']['generation'] == 1
    labelled = kube.custom_objects.patch_namespaced_custom_object(
        GROUP, VERSION, 'default', PLURAL, 'j', {'metadata': {'labels': {'x': 'y'}}})
    assert labelled['metadata']['generation'] == 1
    assert int(labelled['metadata']['resourceVersion']) > int(job['metadata']['resourceVersion'])
    with_status = kube.custom_objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, 'default', PLURAL, 'j', {'status': {'phase': 'Running'}})
    assert with_status['metadata']['generation'] == 1
    respec = kube.custom_objects.patch_namespaced_custom_object(
        GROUP, VERSION, 'default', PLURAL, 'j', {'spec': {'mode': 'incremental'}})
    assert respec['metadata']['generation'] == 2
    # A write that changes nothing keeps the version and emits no event.
    same = kube.custom_objects.patch_namespaced_custom_object(
        GROUP, VERSION, 'default', PLURAL, 'j', {'spec': {'mode': 'incremental'}})
    assert same['metadata']['resourceVersion'] == respec['metadata']['resourceVersion']


def test_json_patch_test_operation_fails_with_422(kube: KubeHandle) -> None:
    cm = kube.core_v1.create_namespaced_config_map('default', configmap('cm'))
    rv = cm.metadata.resource_version
    path = '/api/v1/namespaces/default/configmaps/cm'
    ops = [{'op': 'test', 'path': '/metadata/resourceVersion', 'value': rv},
           {'op': 'add', 'path': '/metadata/finalizers', 'value': ['x.dev/f']}]
    status, body = http(kube, 'PATCH', path, ops, content_type='application/json-patch+json')
    assert status == 200 and body['metadata']['finalizers'] == ['x.dev/f']
    status, body = http(kube, 'PATCH', path, ops, content_type='application/json-patch+json')
    assert status == 422 and body['reason'] == 'Invalid'


# Gap 4
def test_namespaces_are_listed_and_required(kube: KubeHandle) -> None:
    assert [ns.metadata.name for ns in kube.core_v1.list_namespace().items] == ['default']
    with pytest.raises(ApiException) as err:
        kube.core_v1.create_namespaced_config_map('missing', configmap('cm'))
    assert err.value.status == 404
    assert json.loads(err.value.body)['message'] == 'namespaces "missing" not found'
    kube.core_v1.create_namespace({'metadata': {'name': 'extra'}})
    assert kube.core_v1.read_namespace('extra').status.phase == 'Active'
    kube.core_v1.create_namespaced_config_map('extra', configmap('cm'))


def test_namespace_deletion_removes_its_content(kube: KubeHandle) -> None:
    kube.core_v1.create_namespace({'metadata': {'name': 'doomed'}})
    kube.core_v1.create_namespaced_config_map('doomed', configmap('cm'))
    kube.core_v1.delete_namespace('doomed')
    assert kube.get('namespaces', None, 'doomed') is None
    assert kube.get('configmaps', 'doomed', 'cm') is None


# Gap 5
def test_put_replaces_with_a_resource_version_precondition(kube: KubeHandle) -> None:
    cm = kube.core_v1.create_namespaced_config_map('default', configmap('cm'))
    cm.data = {'k': 'new'}
    replaced = kube.core_v1.replace_namespaced_config_map('cm', 'default', cm)
    assert replaced.data == {'k': 'new'}
    stale = cm  # still carries the old resourceVersion
    stale.data = {'k': 'stale'}
    with pytest.raises(ApiException) as err:
        kube.core_v1.replace_namespaced_config_map('cm', 'default', stale)
    assert err.value.status == 409
    assert json.loads(err.value.body)['reason'] == 'Conflict'


# Gap 6
def test_patch_types_follow_the_content_type(kube: KubeHandle) -> None:
    deployment = {
        'metadata': {'name': 'web'},
        'spec': {'replicas': 1, 'selector': {'matchLabels': {'app': 'web'}}, 'template': {
            'metadata': {'labels': {'app': 'web'}},
            'spec': {'containers': [{'name': 'a', 'image': 'nginx',
                                     'env': [{'name': 'X', 'value': '1'}, {'name': 'Y', 'value': '2'}]}]},
        }},
    }
    kube.apps_v1.create_namespaced_deployment('default', deployment)
    path = '/apis/apps/v1/namespaces/default/deployments/web'
    strategic = {'spec': {'template': {'spec': {'containers': [
        {'name': 'a', 'env': [{'name': 'Y', 'value': 'two'}]},
        {'name': 'b', 'image': 'redis'},
    ]}}}}
    status, body = http(kube, 'PATCH', path, strategic, content_type='application/strategic-merge-patch+json')
    containers = body['spec']['template']['spec']['containers']
    assert status == 200
    assert [c['name'] for c in containers] == ['a', 'b']
    assert containers[0]['image'] == 'nginx'
    assert containers[0]['env'] == [{'name': 'X', 'value': '1'}, {'name': 'Y', 'value': 'two'}]

    delete = {'spec': {'template': {'spec': {'containers': [{'name': 'a', '$patch': 'delete'}]}}}}
    status, body = http(kube, 'PATCH', path, delete, content_type='application/strategic-merge-patch+json')
    assert [c['name'] for c in body['spec']['template']['spec']['containers']] == ['b']

    merge = {'spec': {'template': {'spec': {'containers': [{'name': 'c', 'image': 'busybox'}]}}}}
    status, body = http(kube, 'PATCH', path, merge, content_type='application/merge-patch+json')
    assert body['spec']['template']['spec']['containers'] == [{'name': 'c', 'image': 'busybox'}]

    status, body = http(kube, 'PATCH', f'/apis/{GROUP}/{VERSION}/namespaces/default/{PLURAL}/x', {},
                        content_type='application/strategic-merge-patch+json')
    assert status == 415  # never for custom resources, as on a real cluster


def test_server_side_apply_is_rejected_with_415(kube: KubeHandle) -> None:
    kube.core_v1.create_namespaced_config_map('default', configmap('cm'))
    status, body = http(kube, 'PATCH', '/api/v1/namespaces/default/configmaps/cm',
                        b'metadata: {name: cm}\n', content_type='application/apply-patch+yaml',
                        fieldManager='test')
    assert status == 415 and body['reason'] == 'UnsupportedMediaType'


# Gap 7
def test_status_subresource_semantics(kube: KubeHandle) -> None:
    body = etljob('j')
    body['status'] = {'phase': 'Forged'}
    created = kube.custom_objects.create_namespaced_custom_object(GROUP, VERSION, 'default', PLURAL, body)
    assert 'status' not in created

    via_main = kube.custom_objects.patch_namespaced_custom_object(
        GROUP, VERSION, 'default', PLURAL, 'j', {'status': {'phase': 'Ignored'}, 'spec': {'workers': 2}})
    assert 'status' not in via_main and via_main['spec']['workers'] == 2

    via_status = kube.custom_objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, 'default', PLURAL, 'j', {'status': {'phase': 'Running'}, 'spec': {'workers': 5}})
    assert via_status['status'] == {'phase': 'Running'} and via_status['spec']['workers'] == 2

    job = kube.batch_v1.create_namespaced_job('default', {
        'metadata': {'name': 'extract'}, 'status': {'succeeded': 1},
        'spec': {'template': {'spec': {'restartPolicy': 'Never',
                                       'containers': [{'name': 'x', 'image': 'y'}]}}}})
    assert job.status is None or job.status.succeeded is None
    kube.complete_job('default', 'extract')
    assert kube.batch_v1.read_namespaced_job_status('extract', 'default').status.succeeded == 1


# Gap 8
def test_label_and_field_selectors(kube: KubeHandle) -> None:
    for name, labels in [('a', {'app': 'x', 'tier': 'web'}), ('b', {'app': 'y'}), ('c', {})]:
        kube.core_v1.create_namespaced_config_map('default', configmap(name, labels))

    def names(**kwargs: str) -> list[str]:
        return [cm.metadata.name for cm in kube.core_v1.list_namespaced_config_map('default', **kwargs).items]

    assert names(label_selector='app=x') == ['a']
    assert names(label_selector='app==x') == ['a']
    assert names(label_selector='app!=x') == ['b', 'c']
    assert names(label_selector='app in (x, y)') == ['a', 'b']
    assert names(label_selector='app notin (x)') == ['b', 'c']
    assert names(label_selector='app') == ['a', 'b']
    assert names(label_selector='!app') == ['c']
    assert names(label_selector='app,tier=web') == ['a']
    assert names(field_selector='metadata.name=b') == ['b']
    assert names(field_selector='metadata.name!=b') == ['a', 'c']
    assert [cm.metadata.name for cm in kube.core_v1.list_config_map_for_all_namespaces(
        field_selector='metadata.namespace=default').items] == ['a', 'b', 'c']
    with pytest.raises(ApiException) as err:
        names(field_selector='data.k=v')
    assert err.value.status == 400


# Gap 9
def test_watch_resumes_from_a_resource_version(kube: KubeHandle) -> None:
    kube.core_v1.create_namespaced_config_map('default', configmap('old'))
    listed = kube.core_v1.list_namespaced_config_map('default')
    kube.core_v1.create_namespaced_config_map('default', configmap('new'))
    kube.core_v1.patch_namespaced_config_map('old', 'default', {'data': {'k': 'changed'}})
    events = watch_events(kube, '/api/v1/namespaces/default/configmaps',
                          resourceVersion=listed.metadata.resource_version, timeoutSeconds='0')
    assert [(e['type'], e['object']['metadata']['name']) for e in events] == [
        ('ADDED', 'new'), ('MODIFIED', 'old')]

    stream = kubernetes.watch.Watch().stream(
        kube.core_v1.list_namespaced_config_map, 'default', timeout_seconds=1,
        resource_version=listed.metadata.resource_version)
    assert [(e['type'], e['object'].metadata.name) for e in stream] == [('ADDED', 'new'), ('MODIFIED', 'old')]


def test_watch_without_a_version_starts_with_the_current_state(kube: KubeHandle) -> None:
    kube.core_v1.create_namespaced_config_map('default', configmap('one'))
    events = watch_events(kube, '/api/v1/namespaces/default/configmaps', timeoutSeconds='0',
                          sendInitialEvents='true', allowWatchBookmarks='true')
    assert [e['type'] for e in events] == ['ADDED', 'BOOKMARK']
    assert events[1]['object']['metadata']['annotations'] == {'k8s.io/initial-events-end': 'true'}


def test_watch_answers_410_after_compaction(kube: KubeHandle) -> None:
    cm = kube.core_v1.create_namespaced_config_map('default', configmap('cm'))
    kube.core_v1.patch_namespaced_config_map('cm', 'default', {'data': {'k': '2'}})
    kube.compact()
    events = watch_events(kube, '/api/v1/namespaces/default/configmaps',
                          resourceVersion=cm.metadata.resource_version, timeoutSeconds='5')
    assert len(events) == 1 and events[0]['type'] == 'ERROR'
    assert events[0]['object']['code'] == 410 and events[0]['object']['reason'] == 'Expired'


def test_watch_honours_timeout_seconds_and_selectors(kube: KubeHandle) -> None:
    kube.core_v1.create_namespaced_config_map('default', configmap('cm', {'app': 'x'}))
    rv = kube.core_v1.list_namespaced_config_map('default').metadata.resource_version
    kube.core_v1.patch_namespaced_config_map('cm', 'default', {'metadata': {'labels': {'app': 'y'}}})
    started = time.monotonic()
    events = watch_events(kube, '/api/v1/namespaces/default/configmaps', resourceVersion=rv,
                          labelSelector='app=x', timeoutSeconds='1')
    assert 0.9 < time.monotonic() - started < 3
    # Leaving the selection is a DELETED event for a selective watch, as on a real server.
    assert [e['type'] for e in events] == ['DELETED']


# Gap 10
def test_lists_carry_kind_api_version_and_resource_version(kube: KubeHandle) -> None:
    status, body = http(kube, 'GET', '/apis/apps/v1/namespaces/default/deployments')
    assert status == 200
    assert (body['kind'], body['apiVersion']) == ('DeploymentList', 'apps/v1')
    assert int(body['metadata']['resourceVersion']) >= 1


# Gap 11 (and the CRD discovery)
def test_discovery(kube: KubeHandle) -> None:
    _, core = http(kube, 'GET', '/api/v1')
    assert core['groupVersion'] == 'v1'
    assert {'name': 'namespaces', 'kind': 'Namespace', 'namespaced': False}.items() <= next(
        r for r in core['resources'] if r['name'] == 'namespaces').items()
    _, groups = http(kube, 'GET', '/apis')
    assert GROUP in [g['name'] for g in groups['groups']]
    _, crd = http(kube, 'GET', f'/apis/{GROUP}/{VERSION}')
    resources = {r['name']: r for r in crd['resources']}
    assert set(resources) == {'etljobs', 'etljobs/status', 'etljobs/scale'}
    assert resources['etljobs']['kind'] == 'EtlJob' and resources['etljobs']['shortNames'] == ['tej']
    assert kubernetes.client.ApisApi(kube.api_client).get_api_versions().groups


# Gap 12
def test_routing_stays_fast_and_test_reactions_still_win(kube: KubeHandle) -> None:
    kube.core_v1.create_namespaced_config_map('default', configmap('cm'))

    def fastest_read() -> float:
        # The fastest of several batches of reads: a busy machine only ever makes a batch slower.
        times = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(10):
                kube.core_v1.read_namespaced_config_map('cm', 'default')
            times.append((time.perf_counter() - started) / 10)
        return min(times)

    early = fastest_read()
    for _ in range(400):
        kube.core_v1.read_namespaced_config_map('cm', 'default')
    late = fastest_read()
    assert late < 2 * early  # the history of requests does not slow routing down (vanilla: > 3x)

    emu = kube.emulator
    kube.call(lambda: emu['patch', kmock.resource('', 'v1', 'configmaps')][:1] << 500)
    with pytest.raises(ApiException) as err:
        kube.core_v1.patch_namespaced_config_map('cm', 'default', {'data': {'k': 'failed'}})
    assert err.value.status == 500
    assert kube.get('configmaps', 'default', 'cm')['data'] == {'k': 'failed'}  # committed, then failed
    patched = kube.core_v1.patch_namespaced_config_map('cm', 'default', {'data': {'k': 'ok'}})
    assert patched.data == {'k': 'ok'}
    assert emu.objects['v1/configmaps', 'default', 'cm'] >= {'data': {'k': 'ok'}}


# Gap 13
def test_garbage_collection_by_owner_references(kube: KubeHandle) -> None:
    owner = kube.custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, 'default', PLURAL, etljob('o'))
    ref = {'apiVersion': f'{GROUP}/{VERSION}', 'kind': 'EtlJob', 'name': 'o',
           'uid': owner['metadata']['uid'], 'controller': True, 'blockOwnerDeletion': True}
    kube.core_v1.create_namespaced_config_map('default', configmap('child', ownerReferences=[ref]))
    kube.core_v1.create_namespaced_config_map('default', configmap('grandchild', ownerReferences=[{
        **ref, 'apiVersion': 'v1', 'kind': 'ConfigMap', 'name': 'child',
        'uid': kube.get('configmaps', 'default', 'child')['metadata']['uid']}]))
    kube.custom_objects.delete_namespaced_custom_object(GROUP, VERSION, 'default', PLURAL, 'o')
    assert kube.get('configmaps', 'default', 'child') is None
    assert kube.get('configmaps', 'default', 'grandchild') is None


def test_orphan_propagation_keeps_dependents(kube: KubeHandle) -> None:
    owner = kube.custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, 'default', PLURAL, etljob('o'))
    ref = {'apiVersion': f'{GROUP}/{VERSION}', 'kind': 'EtlJob', 'name': 'o', 'uid': owner['metadata']['uid']}
    kube.core_v1.create_namespaced_config_map('default', configmap('child', ownerReferences=[ref]))
    kube.custom_objects.delete_namespaced_custom_object(
        GROUP, VERSION, 'default', PLURAL, 'o', propagation_policy='Orphan')
    child = kube.get('configmaps', 'default', 'child')
    assert child is not None and 'ownerReferences' not in child['metadata']


def test_finalizers_delay_deletion(kube: KubeHandle) -> None:
    kube.core_v1.create_namespaced_config_map('default', configmap('cm', finalizers=['x.dev/hold']))
    kube.core_v1.delete_namespaced_config_map('cm', 'default')
    pending = kube.get('configmaps', 'default', 'cm')
    assert pending is not None and pending['metadata']['deletionTimestamp']
    with pytest.raises(ApiException) as err:
        kube.core_v1.patch_namespaced_config_map('cm', 'default', {'metadata': {'finalizers': ['x', 'y']}})
    assert err.value.status == 422  # no new finalizers on a deleted object
    kube.core_v1.patch_namespaced_config_map('cm', 'default', {'metadata': {'finalizers': None}})
    assert kube.get('configmaps', 'default', 'cm') is None


def test_generate_name(kube: KubeHandle) -> None:
    created = kube.core_v1.create_namespaced_config_map('default', {'metadata': {'generateName': 'cm-'}})
    assert created.metadata.name.startswith('cm-') and len(created.metadata.name) == 8
    with pytest.raises(ApiException) as err:
        kube.core_v1.create_namespaced_config_map('default', {'metadata': {}})
    assert err.value.status == 422


def test_create_conflicts_and_missing_objects(kube: KubeHandle) -> None:
    kube.core_v1.create_namespaced_config_map('default', configmap('cm'))
    with pytest.raises(ApiException) as err:
        kube.core_v1.create_namespaced_config_map('default', configmap('cm'))
    assert err.value.status == 409 and json.loads(err.value.body)['reason'] == 'AlreadyExists'
    with pytest.raises(ApiException) as err:
        kube.core_v1.read_namespaced_config_map('absent', 'default')
    assert err.value.status == 404
    assert json.loads(err.value.body)['message'] == 'configmaps "absent" not found'


def test_crd_schema_validation_pruning_and_defaults(kube: KubeHandle) -> None:
    with pytest.raises(ApiException) as err:
        kube.custom_objects.create_namespaced_custom_object(
            GROUP, VERSION, 'default', PLURAL, etljob('x', mode='sometimes'))
    status = json.loads(err.value.body)
    assert err.value.status == 422 and status['reason'] == 'Invalid'
    assert status['message'] == ('EtlJob.test.quarry.dev "x" is invalid: spec.mode: Unsupported value: '
                                 '"sometimes": supported values: "full", "incremental"')
    assert status['details']['causes'][0]['field'] == 'spec.mode'

    with pytest.raises(ApiException) as err:
        kube.custom_objects.create_namespaced_custom_object(GROUP, VERSION, 'default', PLURAL, {
            **etljob('y'), 'spec': {'workers': 'many', 'mode': 'full'}})
    message = json.loads(err.value.body)['message']
    assert message.startswith('EtlJob.test.quarry.dev "y" is invalid: [')
    assert 'spec.source: Required value' in message
    assert 'spec.workers: Invalid value: "string": spec.workers in body must be of type integer' in message

    created = kube.custom_objects.create_namespaced_custom_object(GROUP, VERSION, 'default', PLURAL, {
        **etljob('z', unknown=1, options={'free': {'form': True}}), 'extra': 'dropped'})
    assert 'unknown' not in created['spec'] and 'extra' not in created
    assert created['spec']['workers'] == 1  # defaulted
    assert created['spec']['options'] == {'free': {'form': True}}  # preserved unknown fields

    with pytest.raises(ApiException) as err:
        kube.custom_objects.patch_namespaced_custom_object(
            GROUP, VERSION, 'default', PLURAL, 'z', {'spec': {'workers': 11}})
    assert 'spec.workers: Invalid value: 11: spec.workers in body should be less than or equal to 10' in \
        json.loads(err.value.body)['message']


def test_crds_are_loaded_from_folders_and_documents(tmp_path: pathlib.Path) -> None:
    crd_dir = tmp_path / 'crds'
    crd_dir.mkdir()
    source = (pathlib.Path(__file__).parent / 'testdata' / 'crds' / 'etljobs.yaml').read_text()
    (crd_dir / 'etljobs.yaml').write_text(source.split('\n---\n')[0])
    gadget_crd = {
        'apiVersion': 'apiextensions.k8s.io/v1', 'kind': 'CustomResourceDefinition',
        'metadata': {'name': 'things.example.dev'},
        'spec': {'group': 'example.dev', 'scope': 'Cluster',
                 'names': {'plural': 'things', 'singular': 'thing', 'kind': 'Thing'},
                 'versions': [{'name': 'v1', 'served': True, 'storage': True, 'schema': {
                     'openAPIV3Schema': {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}}}]},
    }
    with run_emulator(crd_dirs=[crd_dir], crds=[gadget_crd]) as kube:
        crds = kubernetes.client.ApiextensionsV1Api(kube.api_client).list_custom_resource_definition()
        assert sorted(crd.metadata.name for crd in crds.items) == ['etljobs.test.quarry.dev',
                                                                    'things.example.dev']
        kube.custom_objects.create_cluster_custom_object('example.dev', 'v1', 'things', {
            'apiVersion': 'example.dev/v1', 'kind': 'Thing', 'metadata': {'name': 't'}, 'any': 1})
        assert kube.get('things', None, 't')['any'] == 1


def test_scale_subresource(kube: KubeHandle) -> None:
    kube.apps_v1.create_namespaced_deployment('default', {
        'metadata': {'name': 'workers'},
        'spec': {'replicas': 0, 'selector': {'matchLabels': {'app': 'w'}}, 'template': {
            'metadata': {'labels': {'app': 'w'}}, 'spec': {'containers': [{'name': 'w', 'image': 'w'}]}}}})
    scale = kube.apps_v1.patch_namespaced_deployment_scale('workers', 'default', {'spec': {'replicas': 3}})
    assert scale.spec.replicas == 3 and scale.status.selector == 'app=w'
    deployment = kube.apps_v1.read_namespaced_deployment('workers', 'default')
    assert deployment.spec.replicas == 3 and deployment.metadata.generation == 2
    kube.set_deployment_ready('default', 'workers')
    assert kube.apps_v1.read_namespaced_deployment_scale('workers', 'default').status.replicas == 3
    cr_scale = kube.custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, 'default', PLURAL, etljob('j', workers=2))
    assert cr_scale['spec']['workers'] == 2
    kube.custom_objects.patch_namespaced_custom_object_scale(
        GROUP, VERSION, 'default', PLURAL, 'j', {'spec': {'replicas': 4}})
    assert kube.get('etljobs', 'default', 'j')['spec']['workers'] == 4


def test_status_is_validated_through_the_status_subresource(kube: KubeHandle) -> None:
    kube.custom_objects.create_namespaced_custom_object(GROUP, VERSION, 'default', PLURAL, etljob('j'))
    with pytest.raises(ApiException) as err:
        kube.custom_objects.patch_namespaced_custom_object_status(GROUP, VERSION, 'default', PLURAL, 'j', {
            'status': {'lastRun': 'yesterday', 'conditions': [
                {'type': 'Ready', 'status': 'True'}, {'type': 'Ready', 'status': 'False'}]}})
    message = json.loads(err.value.body)['message']
    assert 'status.lastRun: Invalid value: "yesterday": status.lastRun in body must be of type date-time' \
        in message
    assert 'status.conditions[1]: Duplicate value: map[string]interface {}{"type":"Ready"}' in message
    kube.patch_status('etljobs', 'default', 'j', {'lastRun': '2026-01-01T00:00:00Z'})
    assert kube.get('etljobs', 'default', 'j')['status'] == {'lastRun': '2026-01-01T00:00:00Z'}
