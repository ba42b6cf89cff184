"""Pin each gap of vanilla kmock 0.8 that tests/kube/emulator.py closes.

When a kmock upgrade makes one of these fail, the gap is gone upstream: simplify the subclass.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import kmock
import kmock._internal.pytest
import pytest
import pytest_asyncio

pytestmark = pytest.mark.asyncio
CONFIGMAPS = '/api/v1/namespaces/default/configmaps'


@pytest_asyncio.fixture()
async def vanilla() -> AsyncIterator[kmock.KubernetesEmulator]:
    async with kmock.KubernetesEmulator() as emu, kmock.Server(emu):
        yield emu


async def send(emu: kmock.KubernetesEmulator, method: str, path: str, body: Any = None,
               content_type: str = 'application/json') -> tuple[int, Any]:
    kwargs: dict[str, Any] = {'headers': {'Content-Type': content_type}}
    if isinstance(body, bytes):
        kwargs['data'] = body
    elif body is not None:
        kwargs['json'] = body
    async with emu.request(method, path, **kwargs) as response:
        try:
            return response.status, await response.json(content_type=None)
        except ValueError:
            return response.status, await response.text()


async def test_gap01_create_answers_200(vanilla: kmock.KubernetesEmulator) -> None:
    status, _ = await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'cm'}})
    assert status == 200


async def test_gap02_url_namespace_is_not_stored(vanilla: kmock.KubernetesEmulator) -> None:
    _, body = await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'cm'}})
    assert 'namespace' not in body['metadata']


async def test_gap03_no_server_metadata_and_json_patch_test_fails_500(
        vanilla: kmock.KubernetesEmulator) -> None:
    _, body = await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'cm'}})
    assert not {'resourceVersion', 'uid', 'creationTimestamp', 'generation'} & set(body['metadata'])
    ops = [{'op': 'test', 'path': '/metadata/resourceVersion', 'value': None},
           {'op': 'add', 'path': '/metadata/finalizers', 'value': ['f']}]
    status, _ = await send(vanilla, 'PATCH', f'{CONFIGMAPS}/cm', ops, 'application/json-patch+json')
    assert status == 500


async def test_gap04_namespace_listing_fails(vanilla: kmock.KubernetesEmulator) -> None:
    status, _ = await send(vanilla, 'GET', '/api/v1/namespaces')
    assert status == 500


async def test_gap05_put_is_not_routed(vanilla: kmock.KubernetesEmulator) -> None:
    await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'cm'}})
    status, _ = await send(vanilla, 'PUT', f'{CONFIGMAPS}/cm', {'metadata': {'name': 'cm'}, 'data': {}})
    assert status == 404


async def test_gap06_strategic_merge_is_a_plain_merge_and_apply_is_accepted(
        vanilla: kmock.KubernetesEmulator) -> None:
    path = '/apis/apps/v1/namespaces/default/deployments'
    await send(vanilla, 'POST', path, {'metadata': {'name': 'd'}, 'spec': {'template': {'spec': {
        'containers': [{'name': 'a', 'image': 'nginx'}]}}}})
    patch = {'spec': {'template': {'spec': {'containers': [{'name': 'b', 'image': 'redis'}]}}}}
    _, body = await send(vanilla, 'PATCH', f'{path}/d', patch, 'application/strategic-merge-patch+json')
    assert [c['name'] for c in body['spec']['template']['spec']['containers']] == ['b']
    status, _ = await send(vanilla, 'PATCH', f'{path}/d', b'spec: {}\n', 'application/apply-patch+yaml')
    assert status != 415


async def test_gap07_no_status_subresource_semantics(vanilla: kmock.KubernetesEmulator) -> None:
    path = '/apis/batch/v1/namespaces/default/jobs'
    _, created = await send(vanilla, 'POST', path, {'metadata': {'name': 'j'}, 'status': {'succeeded': 1}})
    assert created['status'] == {'succeeded': 1}
    _, patched = await send(vanilla, 'PATCH', f'{path}/j', {'status': {'failed': 1}},
                            'application/merge-patch+json')
    assert patched['status']['failed'] == 1


async def test_gap08_selectors_are_ignored(vanilla: kmock.KubernetesEmulator) -> None:
    await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'a', 'labels': {'app': 'x'}}})
    await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'b', 'labels': {'app': 'y'}}})
    _, by_label = await send(vanilla, 'GET', f'{CONFIGMAPS}?labelSelector=app%3Dx')
    _, by_field = await send(vanilla, 'GET', f'{CONFIGMAPS}?fieldSelector=metadata.name%3Da')
    assert len(by_label['items']) == 2 and len(by_field['items']) == 2


async def test_gap09_watch_replays_everything_and_ignores_the_timeout(
        vanilla: kmock.KubernetesEmulator) -> None:
    await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'old'}})
    url = f'{CONFIGMAPS}?watch=true&resourceVersion=999&timeoutSeconds=0'
    async with vanilla.get(url) as response:
        first = await asyncio.wait_for(response.content.readline(), 2)
        assert b'"ADDED"' in first and b'"old"' in first  # replayed despite the newer version
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(response.content.readline(), 0.5)  # still open after timeoutSeconds


async def test_gap10_lists_have_no_kind(vanilla: kmock.KubernetesEmulator) -> None:
    await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'cm'}})
    _, body = await send(vanilla, 'GET', CONFIGMAPS)
    assert 'kind' not in body and 'apiVersion' not in body


async def test_gap11_core_discovery_says_slash_v1(vanilla: kmock.KubernetesEmulator) -> None:
    await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'cm'}})
    _, body = await send(vanilla, 'GET', '/api/v1')
    assert body['groupVersion'] == '/v1'


async def test_gap12_routing_slows_down_with_history(vanilla: kmock.KubernetesEmulator) -> None:
    await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'cm'}})

    async def per_request(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            await send(vanilla, 'GET', f'{CONFIGMAPS}/cm')
        return (time.perf_counter() - started) / count

    async def fastest(batches: int = 5) -> float:
        # The fastest of several batches: a busy machine only ever makes a batch slower.
        return min([await per_request(10) for _ in range(batches)])

    early = await fastest()
    await per_request(200)
    late = await fastest()
    assert late > 3 * early


async def test_gap13_no_garbage_collection(vanilla: kmock.KubernetesEmulator) -> None:
    await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'owner', 'uid': 'u1'}})
    await send(vanilla, 'POST', CONFIGMAPS, {'metadata': {'name': 'child', 'ownerReferences': [
        {'apiVersion': 'v1', 'kind': 'ConfigMap', 'name': 'owner', 'uid': 'u1'}]}})
    await send(vanilla, 'DELETE', f'{CONFIGMAPS}/owner')
    status, _ = await send(vanilla, 'GET', f'{CONFIGMAPS}/child')
    assert status == 200


async def test_gap14_pytest_plugin_needs_undeclared_pytest_asyncio() -> None:
    assert 'import pytest_asyncio' in inspect.getsource(kmock._internal.pytest)
    requirements = importlib.metadata.requires('kmock') or []
    declared = [req for req in requirements if req.lower().startswith(('pytest-asyncio', 'pytest_asyncio'))
                and 'extra ==' not in req]
    assert not declared


async def test_vanilla_kmock_is_the_pinned_version() -> None:
    assert kmock.__version__.startswith('0.8'), 'kmock changed: re-check the gaps and the subclass'
    assert aiohttp.__version__  # the emulator relies on aiohttp's test server
