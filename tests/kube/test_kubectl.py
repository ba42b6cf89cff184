"""The real kubectl (from tests/kube/tools.py) against the emulator."""

from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

from tests.kube.harness import KubeHandle
from tests.kube.tools import ensure_kubectl, tool_or_skip

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata: {name: tools}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: tools, labels: {app: quarry}}
data: {level: debug}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: workers, namespace: tools}
spec:
  replicas: 1
  selector: {matchLabels: {app: workers}}
  template:
    metadata: {labels: {app: workers}}
    spec:
      containers:
      - name: worker
        image: quarry/worker
        env: [{name: QUEUE, value: jobs}]
---
apiVersion: test.quarry.dev/v1alpha1
kind: EtlJob
metadata: {name: nightly, namespace: tools}
spec: {source: jira, mode: incremental}
"""


@pytest.fixture()
def kubectl(kube: KubeHandle) -> object:
    binary = tool_or_skip(ensure_kubectl)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(binary), '--kubeconfig', str(kube.kubeconfig_path), *args],
                                capture_output=True, text=True, timeout=60, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f'kubectl {" ".join(args)} failed:\n{result.stderr}')
        return result

    return run


def test_kubectl_apply_get_delete(kube: KubeHandle, kubectl: object, tmp_path: pathlib.Path) -> None:
    run = kubectl
    assert callable(run)
    manifest = tmp_path / 'manifest.yaml'
    manifest.write_text(MANIFEST)
    applied = run('apply', '--validate=false', '-f', str(manifest))
    assert 'etljob.test.quarry.dev/nightly created' in applied.stdout

    jobs = json.loads(run('get', 'etljobs', '-n', 'tools', '-o', 'json').stdout)
    assert [item['metadata']['name'] for item in jobs['items']] == ['nightly']
    assert jobs['items'][0]['spec']['workers'] == 1  # defaulted by the CRD schema

    # A second apply adds a container: client-side apply sends a strategic merge patch.
    manifest.write_text(MANIFEST.replace(
        '        env: [{name: QUEUE, value: jobs}]\n',
        '        env: [{name: QUEUE, value: jobs}]\n      - {name: sidecar, image: quarry/sidecar}\n'))
    run('apply', '--validate=false', '-f', str(manifest))
    deployment = json.loads(run('get', 'deployment', 'workers', '-n', 'tools', '-o', 'json').stdout)
    containers = deployment['spec']['template']['spec']['containers']
    assert [c['name'] for c in containers] == ['worker', 'sidecar']
    assert deployment['metadata']['generation'] == 2

    run('scale', 'deployment', 'workers', '-n', 'tools', '--replicas=3')
    assert kube.get('deployments', 'tools', 'workers')['spec']['replicas'] == 3

    bad = tmp_path / 'bad.yaml'
    bad.write_text(MANIFEST.split('---')[-1].replace('incremental', 'sometimes'))
    rejected = run('apply', '--validate=false', '-f', str(bad), check=False)
    assert rejected.returncode != 0
    assert 'spec.mode: Unsupported value: "sometimes"' in rejected.stderr

    # The namespace goes first and takes its content along: hence --ignore-not-found.
    run('delete', '-f', str(manifest), '--wait=false', '--ignore-not-found')
    assert kube.get('namespaces', None, 'tools') is None
    assert kube.get('etljobs', 'tools', 'nightly') is None
    assert kube.get('configmaps', 'tools', 'settings') is None
