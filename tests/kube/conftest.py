"""Fixtures for tests/kube; other test packages import tests.kube.harness.run_emulator directly."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import kubernetes.client
import pytest

from tests.kube.harness import KubeHandle, run_emulator

TEST_CRDS = pathlib.Path(__file__).parent / 'testdata' / 'crds'


@pytest.fixture()
def kube(tmp_path: pathlib.Path) -> Iterator[KubeHandle]:
    """An emulator with only the test CRDs of tests/kube/testdata (independent of crds/)."""
    with run_emulator(crds=[TEST_CRDS], crd_dirs=(), kubeconfig_path=tmp_path / 'kubeconfig') as handle:
        yield handle


@pytest.fixture()
def kube_api(kube: KubeHandle) -> kubernetes.client.ApiClient:
    return kube.api_client
