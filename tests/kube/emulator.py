"""A realistic Kubernetes API emulator on top of kmock 0.8's ``KubernetesEmulator``.

It closes the gaps listed in shared/K8S-TESTING.md, so kopf, the official ``kubernetes`` client
and ``kubectl`` behave against it as they do against a real API server (minus controllers,
admission, RBAC, CEL and pagination).

State lives in kmock's ``objects`` array (``emu.objects['batch/v1/jobs', 'ns', 'name']`` works
for assertions and history); every request is served by this class's own dispatcher, and kmock's
DSL reactions (``emu['patch', kmock.resource(...)][:1] << 500``) still take precedence when a test
registers them (writes are committed first, then the reaction answers, as in vanilla kmock).
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import dataclasses
import datetime
import json
import pathlib
import random
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal import dsl, enums, k8s_views, rendering

from tests.kube import _patches, _schema, _selectors

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_CRD_DIRS: tuple[pathlib.Path, ...] = (REPO_ROOT / 'crds',)
CRD_RESOURCE = kmock.resource('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')
NAMESPACES = kmock.resource('', 'v1', 'namespaces')
DEFAULT_VERBS = ('create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch')
INITIAL_EVENTS_END = 'k8s.io/initial-events-end'

_DNS1123_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
_DNS1123_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
_GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'


class ApiError(Exception):
    """An answer of the API server that is a Kubernetes ``Status`` with a non-2xx code."""

    def __init__(self, code: int, reason: str, message: str, details: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = dict(details or {})

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            'kind': 'Status', 'apiVersion': 'v1', 'metadata': {},
            'status': 'Failure', 'message': self.message, 'reason': self.reason, 'code': self.code,
        }
        if self.details:
            body['details'] = self.details
        return body


class CRDLoadError(RuntimeError):
    """A CRD file or document cannot be loaded into the emulator."""


@dataclasses.dataclass
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool
    subresources: frozenset[str] = frozenset()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = None
    storage_version: str | None = None
    scale_paths: tuple[str, str, str | None] = ('.spec.replicas', '.status.replicas', None)
    field_labels: frozenset[str] = frozenset()
    verbs: tuple[str, ...] = DEFAULT_VERBS
    custom: bool = False

    @property
    def api_version(self) -> str:
        return f'{self.group}/{self.version}' if self.group else self.version

    @property
    def resource(self) -> kmock.resource:
        return kmock.resource(self.group, self.version, self.plural)

    @property
    def storage(self) -> kmock.resource:
        return kmock.resource(self.group, self.storage_version or self.version, self.plural)

    @property
    def qualified_kind(self) -> str:
        return f'{self.kind}.{self.group}' if self.group else self.kind

    @property
    def qualified_plural(self) -> str:
        return f'{self.plural}.{self.group}' if self.group else self.plural

    def allows_field(self, label: str) -> bool:
        return label in ('metadata.name', 'metadata.namespace') or label in self.field_labels


def _builtin(api_version: str, plural: str, kind: str, *, namespaced: bool = True,
             subresources: Iterable[str] = (), short_names: Iterable[str] = (),
             field_labels: Iterable[str] = ()) -> ResourceType:
    group, _, version = api_version.rpartition('/')
    return ResourceType(group=group, version=version, plural=plural, kind=kind, singular=kind.lower(),
                        namespaced=namespaced, subresources=frozenset(subresources),
                        short_names=tuple(short_names), field_labels=frozenset(field_labels))


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _builtin('v1', 'namespaces', 'Namespace', namespaced=False, subresources=['status'],
             short_names=['ns'], field_labels=['status.phase']),
    _builtin('v1', 'pods', 'Pod', subresources=['status'], short_names=['po'],
             field_labels=['status.phase', 'spec.nodeName', 'spec.restartPolicy']),
    _builtin('v1', 'services', 'Service', subresources=['status'], short_names=['svc']),
    _builtin('v1', 'configmaps', 'ConfigMap', short_names=['cm']),
    _builtin('v1', 'secrets', 'Secret', field_labels=['type']),
    _builtin('v1', 'serviceaccounts', 'ServiceAccount', short_names=['sa']),
    _builtin('v1', 'persistentvolumeclaims', 'PersistentVolumeClaim', subresources=['status'],
             short_names=['pvc']),
    _builtin('v1', 'events', 'Event', short_names=['ev'],
             field_labels=['involvedObject.kind', 'involvedObject.name', 'involvedObject.namespace',
                           'involvedObject.uid', 'involvedObject.apiVersion', 'reason', 'type',
                           'source']),
    _builtin('v1', 'nodes', 'Node', namespaced=False, subresources=['status'], short_names=['no']),
    _builtin('apps/v1', 'deployments', 'Deployment', subresources=['status', 'scale'],
             short_names=['deploy']),
    _builtin('apps/v1', 'statefulsets', 'StatefulSet', subresources=['status', 'scale'],
             short_names=['sts']),
    _builtin('apps/v1', 'replicasets', 'ReplicaSet', subresources=['status', 'scale'], short_names=['rs']),
    _builtin('apps/v1', 'daemonsets', 'DaemonSet', subresources=['status'], short_names=['ds']),
    _builtin('batch/v1', 'jobs', 'Job', subresources=['status'], field_labels=['status.successful']),
    _builtin('batch/v1', 'cronjobs', 'CronJob', subresources=['status'], short_names=['cj']),
    _builtin('coordination.k8s.io/v1', 'leases', 'Lease'),
    _builtin('events.k8s.io/v1', 'events', 'Event', short_names=['ev']),
    _builtin('policy/v1', 'poddisruptionbudgets', 'PodDisruptionBudget', subresources=['status'],
             short_names=['pdb']),
    _builtin('networking.k8s.io/v1', 'ingresses', 'Ingress', subresources=['status'], short_names=['ing']),
    _builtin('networking.k8s.io/v1', 'networkpolicies', 'NetworkPolicy', short_names=['netpol']),
    _builtin('autoscaling/v2', 'horizontalpodautoscalers', 'HorizontalPodAutoscaler',
             subresources=['status'], short_names=['hpa']),
    _builtin('rbac.authorization.k8s.io/v1', 'roles', 'Role'),
    _builtin('rbac.authorization.k8s.io/v1', 'rolebindings', 'RoleBinding'),
    _builtin('rbac.authorization.k8s.io/v1', 'clusterroles', 'ClusterRole', namespaced=False),
    _builtin('rbac.authorization.k8s.io/v1', 'clusterrolebindings', 'ClusterRoleBinding', namespaced=False),
    _builtin('apiextensions.k8s.io/v1', 'customresourcedefinitions', 'CustomResourceDefinition',
             namespaced=False, subresources=['status'], short_names=['crd', 'crds']),
)


@dataclasses.dataclass(frozen=True)
class LogEntry:
    rv: int
    storage: kmock.resource
    type: str
    obj: Mapping[str, Any]
    prev: Mapping[str, Any] | None


@dataclasses.dataclass(frozen=True)
class ParsedPath:
    group: str
    version: str
    namespace: str | None
    plural: str | None
    name: str | None
    subresource: str | None
    watch: bool


def parse_path(path: str) -> ParsedPath | None:
    """Parse a resource URL; unlike kmock 0.8, ``/api/v1/namespaces[/name[/status]]`` is understood."""
    segs = [seg for seg in path.strip('/').split('/') if seg]
    if len(segs) >= 2 and segs[0] == 'api':
        group, version, rest = '', segs[1], segs[2:]
    elif len(segs) >= 3 and segs[0] == 'apis':
        group, version, rest = segs[1], segs[2], segs[3:]
    else:
        return None
    watch = bool(rest) and rest[0] == 'watch'
    rest = rest[1:] if watch else rest
    namespace = None
    if len(rest) >= 3 and rest[0] == 'namespaces' and rest[2] not in ('status', 'finalize'):
        namespace, rest = rest[1], rest[2:]
    return ParsedPath(
        group=group, version=version, namespace=namespace,
        plural=rest[0] if rest else None,
        name=rest[1] if len(rest) > 1 else None,
        subresource='/'.join(rest[2:]) or None,
        watch=watch,
    )


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def _get_path(obj: Mapping[str, Any], dotted: str) -> Any:
    value: Any = obj
    for step in dotted.strip('.').split('.'):
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def _set_path(obj: dict[str, Any], dotted: str, value: Any) -> None:
    steps = dotted.strip('.').split('.')
    node = obj
    for step in steps[:-1]:
        node = node.setdefault(step, {})
    node[steps[-1]] = value


def _without(obj: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: val for key, val in obj.items() if key not in keys}


def load_crd_documents(sources: Iterable[Mapping[str, Any] | str | pathlib.Path]) -> list[dict[str, Any]]:
    """Collect CRD documents from dicts, YAML files, or folders of YAML files."""
    docs: list[dict[str, Any]] = []
    for source in sources:
        if isinstance(source, Mapping):
            docs.append(dict(source))
            continue
        path = pathlib.Path(source)
        files = sorted([*path.glob('*.yaml'), *path.glob('*.yml')]) if path.is_dir() else [path]
        for file in files:
            try:
                loaded = list(yaml.safe_load_all(file.read_text(encoding='utf-8')))
            except (OSError, yaml.YAMLError) as e:
                raise CRDLoadError(f'cannot read CRDs from {file}: {e}') from e
            for doc in loaded:
                if isinstance(doc, Mapping) and doc.get('kind') == 'CustomResourceDefinition':
                    docs.append(dict(doc))
    return docs


@attrs.define(kw_only=True)
class KubernetesEmulator(kmock.KubernetesEmulator):
    """kmock's emulator with realistic API-server semantics (see the module docstring)."""

    # CRD documents, files or folders to load at start-up, in addition to ``crd_dirs``.
    crds: Sequence[Mapping[str, Any] | str | pathlib.Path] = ()
    # Folders whose *.yaml CRDs are loaded at start-up; ``()`` disables the repository's crds/.
    crd_dirs: Sequence[str | pathlib.Path] = DEFAULT_CRD_DIRS
    seed_namespaces: Sequence[str] = ('default',)
    # How many watch events are kept for resuming watches; older ones are compacted (410 Gone).
    log_limit: int = 10_000

    _types: dict[tuple[str, str, str], ResourceType] = attrs.field(factory=dict, init=False)
    _rv: int = attrs.field(default=0, init=False)
    _log: list[LogEntry] = attrs.field(factory=list, init=False)
    _compacted_rv: int = attrs.field(default=0, init=False)
    _wakeup: asyncio.Future[None] | None = attrs.field(default=None, init=False)
    _closing: bool = attrs.field(default=False, init=False)
    _orphaning: set[str] = attrs.field(factory=set, init=False)
    _builtin_payloads: set[int] = attrs.field(factory=set, init=False)
    _host_url: str = attrs.field(default='', init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # kmock's own fallbacks stay registered but are never reached; only test reactions are routed.
        self._builtin_payloads = {id(payload) for payload in self._payloads}
        for rt in BUILTIN_TYPES:
            self.register(dataclasses.replace(rt))
        for namespace in self.seed_namespaces:
            self.create_object('v1/namespaces', {'metadata': {'name': namespace}})
        self.load_crds([*self.crd_dirs, *self.crds], missing_ok=True)

    # --- public API (call in the emulator's event loop thread; the harness proxies to it) ------

    def register(self, rt: ResourceType) -> None:
        self._types[rt.group, rt.version, rt.plural] = rt
        self._resources[rt.resource] = kmock.ResourceInfo(
            namespaced=rt.namespaced, kind=rt.kind, singular=rt.singular, verbs=set(rt.verbs),
            shortnames=set(rt.short_names), categories=set(rt.categories),
            subresources=set(rt.subresources))

    def load_crds(self, sources: Iterable[Mapping[str, Any] | str | pathlib.Path], *,
                  missing_ok: bool = False) -> list[dict[str, Any]]:
        """Create (or replace) CRDs from documents, files or folders; returns the stored CRDs."""
        existing = [src for src in sources
                    if isinstance(src, Mapping) or not missing_ok or pathlib.Path(src).exists()]
        stored = []
        for doc in load_crd_documents(existing):
            name = (doc.get('metadata') or {}).get('name', '')
            try:
                if self.get_object(CRD_RESOURCE, None, name) is None:
                    stored.append(self.create_object(CRD_RESOURCE, doc))
                else:
                    body = copy.deepcopy(doc)
                    body.setdefault('metadata', {}).pop('resourceVersion', None)
                    stored.append(self.replace_object(CRD_RESOURCE, None, name, body))
            except ApiError as e:
                raise CRDLoadError(f'CRD {name!r} is rejected: {e.message}') from e
        return stored

    def resource_type(self, resource: str | kmock.resource | ResourceType) -> ResourceType:
        """Resolve 'batch/v1/jobs', 'v1/pods', 'jobs', 'Job', 'deploy', or a kmock.resource."""
        if isinstance(resource, ResourceType):
            return resource
        if isinstance(resource, str) and '/' not in resource and '.' not in resource:
            for rt in self._types.values():
                if resource in (rt.plural, rt.kind, rt.singular, *rt.short_names):
                    return rt
            raise KeyError(f'unknown resource: {resource!r}')
        ref = resource if isinstance(resource, kmock.resource) else kmock.resource(resource)
        for rt in self._types.values():
            if (rt.group, rt.plural) == (ref.group, ref.plural) and ref.version in (None, rt.version):
                return rt
        raise KeyError(f'unknown resource: {resource!r}')

    def get_object(self, resource: str | kmock.resource | ResourceType, namespace: str | None,
                   name: str) -> dict[str, Any] | None:
        rt = self.resource_type(resource)
        stored = self._live(rt, namespace, name)
        return None if stored is None else self._present(rt, stored)

    def list_objects(self, resource: str | kmock.resource | ResourceType, namespace: str | None = None, *,
                     label_selector: str | None = None) -> list[dict[str, Any]]:
        rt = self.resource_type(resource)
        labels = _selectors.parse_label_selector(label_selector)
        return [self._present(rt, obj) for obj in self._live_all(rt, namespace)
                if _selectors.matches(obj, labels, [])]

    def create_object(self, resource: str | kmock.resource | ResourceType, body: Mapping[str, Any],
                      namespace: str | None = None) -> dict[str, Any]:
        rt = self.resource_type(resource)
        ns = namespace or (body.get('metadata') or {}).get('namespace') or ('default' if rt.namespaced
                                                                              else None)
        return self._create(rt, ns, copy.deepcopy(dict(body)), dry_run=False)

    def replace_object(self, resource: str | kmock.resource | ResourceType, namespace: str | None,
                       name: str, body: Mapping[str, Any], *,
                       subresource: str | None = None) -> dict[str, Any]:
        rt = self.resource_type(resource)
        return self._replace(rt, namespace, name, subresource, copy.deepcopy(dict(body)), dry_run=False)

    def patch_object(self, resource: str | kmock.resource | ResourceType, namespace: str | None,
                     name: str, patch: Any, *, subresource: str | None = None,
                     patch_type: str = 'merge') -> dict[str, Any]:
        """Patch like a client would; ``patch_type`` is 'merge', 'json' or 'strategic'."""
        rt = self.resource_type(resource)
        content_type = {
            'merge': 'application/merge-patch+json',
            'json': 'application/json-patch+json',
            'strategic': 'application/strategic-merge-patch+json',
        }[patch_type]
        return self._patch(rt, namespace, name, subresource, content_type, patch, dry_run=False)

    def delete_object(self, resource: str | kmock.resource | ResourceType, namespace: str | None,
                      name: str, *, propagation_policy: str | None = None) -> dict[str, Any]:
        rt = self.resource_type(resource)
        options = {'propagationPolicy': propagation_policy} if propagation_policy else {}
        return self._delete(rt, namespace, name, options, dry_run=False)[1]

    @property
    def resource_version(self) -> int:
        return self._rv

    def compact(self, up_to: int | None = None) -> None:
        """Forget watch events up to a version (default: all), as etcd compaction does."""
        up_to = self._rv if up_to is None else up_to
        self._log = [entry for entry in self._log if entry.rv > up_to]
        self._compacted_rv = max(self._compacted_rv, up_to)

    def close_streams(self) -> None:
        """End all watch streams now (so the HTTP server can shut down without waiting)."""
        self._closing = True
        self._notify()

    # --- HTTP entry point ----------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # Re-implements RawHandler.__call__ only to replace kmock's URL parser (see parse_path).
        body = await raw_request.read()
        raw_response: aiohttp.web.StreamResponse | None = None
        try:
            request = self._parse_request(raw_request, body)
            self._requests.append(request)
            try:
                return await self._handle(request)
            except rendering.StreamingError as e:
                raw_response = e.args[0]
                raise (e.__cause__ or e) from None
        except Exception as e:
            if not self._errors:
                raise
            self._errors[-1].append(e)
            if raw_response is None or not raw_response.prepared:
                return await self._render_error(e)
            await self._stream_error(e, raw_response)
            await raw_response.write_eof()
            return raw_response

    def _parse_request(self, raw_request: aiohttp.web.BaseRequest, body: bytes) -> rendering.Request:
        text = body.decode('utf-8', errors='replace')
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        parsed = parse_path(raw_request.path)
        params = dict(raw_request.query)
        method = enums.method.guess(raw_request.method)
        action: enums.action | None = None
        if parsed is not None:
            if method == enums.method.GET and (parsed.watch or params.get('watch') in ('true', '1')):
                action = enums.action.WATCH
            elif parsed.name is None:
                action = {'GET': enums.action.LIST, 'POST': enums.action.CREATE,
                          'DELETE': enums.action.DELETE}.get(raw_request.method)
            else:
                action = {'GET': enums.action.FETCH, 'PATCH': enums.action.UPDATE,
                          'PUT': enums.action.UPDATE, 'DELETE': enums.action.DELETE}.get(raw_request.method)
        return rendering.Request(
            id=len(self._requests), raw_request=raw_request, url=raw_request.url, method=method,
            params=params, headers=dict(raw_request.headers), cookies=dict(raw_request.cookies),
            data=data, body=body, text=text, action=action,
            resource=None if parsed is None else kmock.resource(parsed.group, parsed.version, parsed.plural),
            namespace=None if parsed is None else parsed.namespace,
            name=None if parsed is None else parsed.name,
            subresource=None if parsed is None else parsed.subresource,
        )

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        user_payloads = [p for p in self._payloads if id(p) not in self._builtin_payloads]
        # Fast path: kmock's router scans the whole request history per reaction (gap 12).
        if not user_payloads:
            return await self._serve(request, None)
        outcome: tuple[int, Any] | ApiError | None = None
        if request.method in (enums.method.POST, enums.method.PUT, enums.method.PATCH,
                              enums.method.DELETE):
            try:
                outcome = self._execute(request)
            except ApiError as e:
                outcome = e
        try:
            return await self._route_user(request, user_payloads)
        except NotImplementedError:
            return await self._serve(request, outcome)

    async def _route_user(self, request: rendering.Request,
                          payloads: list[dsl.Reaction]) -> aiohttp.web.StreamResponse:
        priorities = [payload.priorities for payload in payloads]
        width = max((len(p) for p in priorities), default=0)
        keys = [tuple(-p for p in prio) + (0,) * (width - len(prio)) for prio in priorities]
        for index in sorted(range(len(payloads)), key=lambda i: keys[i]):
            payload = payloads[index]
            if request in payload._source and not payload._disabled.is_set():
                try:
                    return await payload(request)
                except rendering.ReactionMismatchError:
                    payload._disabled.set()
                except NotImplementedError:
                    pass
        raise NotImplementedError

    async def _serve(self, request: rendering.Request,
                     outcome: tuple[int, Any] | ApiError | None) -> aiohttp.web.StreamResponse:
        try:
            if outcome is None:
                if request.action == enums.action.WATCH:
                    return await self._stream_watch(request)
                outcome = self._execute(request)
            if isinstance(outcome, ApiError):
                raise outcome
        except ApiError as e:
            return aiohttp.web.json_response(e.status(), status=e.code)
        status, body = outcome
        if isinstance(body, str):
            return aiohttp.web.Response(text=body, status=status)
        return aiohttp.web.json_response(body, status=status)

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, ApiError):
            return aiohttp.web.json_response(exc.status(), status=exc.code)
        return await super()._render_error(exc)

    # --- dispatching ---------------------------------------------------------------------------

    def _execute(self, request: rendering.Request) -> tuple[int, Any]:
        raw = request._raw_request
        path = raw.path if raw is not None else str(request.url.path)
        parsed = parse_path(path)
        if parsed is None or parsed.plural is None:
            return self._serve_non_resource(request, path)
        rt = self._types.get((parsed.group, parsed.version, parsed.plural))
        if rt is None or (parsed.namespace is not None and not rt.namespaced):
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        ns, name, sub = parsed.namespace, parsed.name, parsed.subresource
        if sub is not None and sub not in rt.subresources:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        if rt.namespaced and ns is None and request.method != enums.method.GET:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        params = request.params
        dry_run = 'All' in params.get('dryRun', '')
        method = request.method

        if method == enums.method.GET and name is None:
            return 200, self._list(rt, ns, params)
        if method == enums.method.GET and name is not None:
            obj = self._require(rt, ns, name)
            return 200, self._scale_of(rt, obj) if sub == 'scale' else self._present(rt, obj)
        if method == enums.method.POST and name is None:
            body = self._json_body(request)
            return 201, self._create(rt, ns, body, dry_run=dry_run)
        if method == enums.method.PUT and name is not None:
            body = self._json_body(request)
            return 200, self._replace(rt, ns, name, sub, body, dry_run=dry_run)
        if method == enums.method.PATCH and name is not None:
            content_type = request.headers.get('Content-Type', '').split(';')[0].strip()
            if content_type == 'application/apply-patch+yaml':
                raise ApiError(415, 'UnsupportedMediaType',
                               'server-side apply is not supported by this emulator')
            patch = self._json_body(request)
            return 200, self._patch(rt, ns, name, sub, content_type, patch, dry_run=dry_run)
        if method == enums.method.DELETE and name is not None:
            options = dict(request.data) if isinstance(request.data, Mapping) else {}
            for key in ('propagationPolicy', 'gracePeriodSeconds', 'orphanDependents'):
                if key in params:
                    options[key] = params[key]
            return self._delete(rt, ns, name, options, dry_run=dry_run)
        if method == enums.method.DELETE:
            return 200, self._delete_collection(rt, ns, params, dry_run=dry_run)
        raise ApiError(405, 'MethodNotAllowed',
                       'the server does not allow this method on the requested resource')

    @staticmethod
    def _json_body(request: rendering.Request) -> Any:
        try:
            return json.loads(request.body) if request.body else None
        except ValueError as e:
            raise ApiError(400, 'BadRequest', f'the request body is not valid JSON: {e}') from e

    def _serve_non_resource(self, request: rendering.Request, path: str) -> tuple[int, Any]:
        segs = [seg for seg in path.strip('/').split('/') if seg]
        if request.method != enums.method.GET:
            raise ApiError(405, 'MethodNotAllowed', 'the server does not allow this method')
        match segs:
            case []:
                groups = sorted({rt.api_version for rt in self._types.values()})
                paths = ['/api', '/api/v1', '/apis', '/healthz', '/livez', '/readyz', '/version']
                paths += [f'/apis/{gv}' for gv in groups if '/' in gv]
                paths += sorted({f'/apis/{rt.group}' for rt in self._types.values() if rt.group})
                return 200, {'paths': sorted(paths)}
            case ['healthz' | 'livez' | 'readyz']:
                return 200, 'ok'
            case ['version']:
                return 200, {'major': '1', 'minor': '30', 'gitVersion': 'v1.30.0-quarry-emulator',
                             'gitCommit': '', 'gitTreeState': 'clean', 'buildDate': '',
                             'goVersion': '', 'compiler': 'gc', 'platform': 'linux/amd64'}
            case ['api']:
                return 200, {'kind': 'APIVersions', 'versions': ['v1'],
                             'serverAddressByClientCIDRs': [{'clientCIDR': '0.0.0.0/0',
                                                             'serverAddress': self._host_url}]}
            case ['api', version]:
                return 200, self._resource_list('', version)
            case ['apis']:
                groups = sorted({rt.group for rt in self._types.values() if rt.group})
                return 200, {'kind': 'APIGroupList', 'apiVersion': 'v1',
                             'groups': [self._group_doc(group) for group in groups]}
            case ['apis', group]:
                if not any(rt.group == group for rt in self._types.values()):
                    raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
                return 200, {'kind': 'APIGroup', 'apiVersion': 'v1', **self._group_doc(group)}
            case ['apis', group, version]:
                return 200, self._resource_list(group, version)
        raise ApiError(404, 'NotFound', 'the server could not find the requested resource')

    def _group_doc(self, group: str) -> dict[str, Any]:
        versions = sorted({rt.version for rt in self._types.values() if rt.group == group})
        preferred = next((rt.storage_version for rt in self._types.values()
                          if rt.group == group and rt.storage_version), versions[0])
        return {
            'name': group,
            'versions': [{'groupVersion': f'{group}/{v}', 'version': v} for v in versions],
            'preferredVersion': {'groupVersion': f'{group}/{preferred}', 'version': preferred},
        }

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        types = [rt for rt in self._types.values() if (rt.group, rt.version) == (group, version)]
        if not types:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        resources: list[dict[str, Any]] = []
        for rt in sorted(types, key=lambda t: t.plural):
            resources.append({
                'name': rt.plural, 'singularName': rt.singular, 'namespaced': rt.namespaced,
                'kind': rt.kind, 'verbs': list(rt.verbs), 'shortNames': list(rt.short_names),
                'categories': list(rt.categories), 'storageVersionHash': '',
            })
            for sub in sorted(rt.subresources):
                entry: dict[str, Any] = {'name': f'{rt.plural}/{sub}', 'singularName': '',
                                         'namespaced': rt.namespaced, 'kind': rt.kind,
                                         'verbs': ['get', 'patch', 'update']}
                if sub == 'scale':
                    entry.update(kind='Scale', group='autoscaling', version='v1')
                resources.append(entry)
        return {'kind': 'APIResourceList', 'apiVersion': 'v1',
                'groupVersion': f'{group}/{version}' if group else version, 'resources': resources}

    # --- storage helpers -----------------------------------------------------------------------

    def _key(self, rt: ResourceType, namespace: str | None, name: str) -> k8s_views.ArrayKey:
        return rt.storage, namespace if rt.namespaced else None, name

    def _live(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = self._key(rt, namespace, name)
        if key not in self._objects:
            return None
        obj = self._objects[key]
        return None if obj.deleted else obj.last.raw

    def _live_all(self, rt: ResourceType | None, namespace: str | None = None) -> list[dict[str, Any]]:
        result = []
        for (res, ns, _), obj in self._objects.items():
            if rt is not None and res != rt.storage:
                continue
            if namespace is not None and ns != namespace:
                continue
            if not obj.deleted:
                result.append(obj.last.raw)
        return result

    def _require(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self._live(rt, namespace, name)
        if obj is None:
            raise ApiError(404, 'NotFound', f'{rt.qualified_plural} "{name}" not found',
                           {'name': name, 'group': rt.group, 'kind': rt.plural})
        return obj

    def _present(self, rt: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
        result = copy.deepcopy(dict(obj))
        result['apiVersion'] = rt.api_version
        return result

    def _type_of_storage(self, storage: kmock.resource) -> ResourceType | None:
        for rt in self._types.values():
            if rt.storage == storage:
                return rt
        return None

    def _notify(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)
        self._wakeup = None

    def _commit(self, rt: ResourceType, event: str, new: dict[str, Any],
                prev: Mapping[str, Any] | None) -> dict[str, Any]:
        self._rv += 1
        new.setdefault('metadata', {})['resourceVersion'] = str(self._rv)
        meta = new['metadata']
        key = self._key(rt, meta.get('namespace'), meta['name'])
        if event == 'DELETED':
            self._objects[key].history.append(new)
            self._objects[key].delete()
        elif key in self._objects:
            self._objects[key].history.append(new)
        else:
            self._objects[key] = new
        self._log.append(LogEntry(self._rv, rt.storage, event, new, prev))
        if len(self._log) > self.log_limit:
            dropped = self._log[: len(self._log) - self.log_limit]
            self._log = self._log[len(dropped):]
            self._compacted_rv = dropped[-1].rv
        self._notify()
        return new

    # --- validation ----------------------------------------------------------------------------

    def _invalid(self, rt: ResourceType, name: str, errors: Sequence[_schema.FieldError]) -> ApiError:
        shown = str(errors[0]) if len(errors) == 1 else '[' + ', '.join(str(e) for e in errors) + ']'
        return ApiError(422, 'Invalid', f'{rt.qualified_kind} "{name}" is invalid: {shown}', {
            'name': name, 'group': rt.group, 'kind': rt.kind,
            'causes': [{'reason': e.reason, 'message': e.detail, 'field': e.field} for e in errors],
        })

    def _check_name(self, rt: ResourceType, name: str) -> None:
        pattern, limit, what = ((_DNS1123_LABEL, 63, 'RFC 1123 label') if rt.plural == 'namespaces'
                                else (_DNS1123_SUBDOMAIN, 253, 'RFC 1123 subdomain'))
        if len(name) > limit or not pattern.match(name):
            detail = (f'Invalid value: "{name}": a lowercase {what} must consist of lower case '
                      f"alphanumeric characters, '-' or '.', and must start and end with an "
                      f'alphanumeric character')
            raise self._invalid(rt, name, [_schema.FieldError('metadata.name', 'FieldValueInvalid', detail)])

    def _admit(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Prune, default and validate a custom resource; a no-op for built-ins."""
        if rt.schema is None:
            return obj
        name = obj['metadata'].get('name', '')
        pruned = _schema.prune_and_default(obj, rt.schema, root=True)
        errors = _schema.validate(pruned, rt.schema, root=True)
        if errors:
            raise self._invalid(rt, name, errors)
        return pruned  # type: ignore[no-any-return]

    # --- create --------------------------------------------------------------------------------

    def _create(self, rt: ResourceType, namespace: str | None, body: Any, *, dry_run: bool) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get('metadata', {}), dict):
            raise ApiError(400, 'BadRequest', 'the body of the request must be a JSON object')
        if body.get('kind') not in (None, rt.kind):
            raise ApiError(400, 'BadRequest',
                           f'the kind in the data ({body["kind"]}) does not match the expected '
                           f'kind ({rt.kind})')
        body['apiVersion'], body['kind'] = rt.api_version, rt.kind
        meta = body.setdefault('metadata', {})
        if rt.namespaced:
            if meta.get('namespace') not in (None, '', namespace):
                raise ApiError(400, 'BadRequest', 'the namespace of the provided object does not match '
                                                  'the namespace sent on the request')
            meta['namespace'] = namespace
            self._require_namespace(namespace)
        else:
            meta.pop('namespace', None)
        if not meta.get('name'):
            if not meta.get('generateName'):
                raise self._invalid(rt, '', [_schema.FieldError(
                    'metadata.name', 'FieldValueRequired',
                    'Required value: name or generateName is required')])
            while True:
                suffix = ''.join(random.choices(_GENERATE_ALPHABET, k=5))
                meta['name'] = f'{meta["generateName"]}{suffix}'
                if self._live(rt, namespace, meta['name']) is None:
                    break
        name = meta['name']
        self._check_name(rt, name)
        if self._live(rt, namespace, name) is not None:
            raise ApiError(409, 'AlreadyExists', f'{rt.qualified_plural} "{name}" already exists',
                           {'name': name, 'group': rt.group, 'kind': rt.plural})
        if 'status' in rt.subresources:
            body.pop('status', None)
        for field in ('resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields'):
            meta.pop(field, None)
        meta['uid'] = str(uuid.uuid4())
        meta['creationTimestamp'] = _now()
        meta['generation'] = 1
        body = self._admit(rt, body)
        if (rt.group, rt.plural) == ('apiextensions.k8s.io', 'customresourcedefinitions') and not dry_run:
            body['status'] = self._register_crd(body)
        if rt.plural == 'namespaces' and not rt.group:
            body.setdefault('spec', {'finalizers': ['kubernetes']})
            body['status'] = {'phase': 'Active'}
        if dry_run:
            return self._present(rt, body)
        return self._present(rt, self._commit(rt, 'ADDED', body, None))

    def _require_namespace(self, namespace: str | None) -> None:
        ns_type = self._types['', 'v1', 'namespaces']
        ns_obj = self._live(ns_type, None, namespace or '')
        if ns_obj is None:
            raise ApiError(404, 'NotFound', f'namespaces "{namespace}" not found',
                           {'name': namespace, 'kind': 'namespaces'})
        if (ns_obj.get('metadata') or {}).get('deletionTimestamp'):
            raise ApiError(403, 'Forbidden', f'unable to create new content in namespace {namespace} '
                                             f'because it is being terminated')

    # --- update (PUT and PATCH share the pipeline) ---------------------------------------------

    def _replace(self, rt: ResourceType, namespace: str | None, name: str, sub: str | None,
                 body: Any, *, dry_run: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, 'BadRequest', 'the body of the request must be a JSON object')
        body_name = (body.get('metadata') or {}).get('name')
        if body_name not in (None, name):
            raise ApiError(400, 'BadRequest', f'the name of the object ({body_name}) does not match the '
                                              f'name on the URL ({name})')
        if sub == 'scale':
            return self._update_scale(rt, namespace, name, lambda _: body, dry_run=dry_run)
        return self._update(rt, namespace, name, sub, lambda _: copy.deepcopy(body), dry_run=dry_run)

    def _patch(self, rt: ResourceType, namespace: str | None, name: str, sub: str | None,
               content_type: str, patch: Any, *, dry_run: bool) -> dict[str, Any]:
        mutate: Callable[[dict[str, Any]], Any]
        if content_type == 'application/json-patch+json':
            def mutate(obj: dict[str, Any]) -> Any:
                return _patches.json_patch(obj, patch)
        elif content_type == 'application/merge-patch+json':
            if not isinstance(patch, dict):
                raise ApiError(400, 'BadRequest', 'a merge patch must be a JSON object')

            def mutate(obj: dict[str, Any]) -> Any:
                return _patches.json_merge_patch(obj, patch)
        elif content_type == 'application/strategic-merge-patch+json':
            if rt.custom:
                raise ApiError(415, 'UnsupportedMediaType',
                               'strategic merge patch is not supported for custom resources')
            if not isinstance(patch, dict):
                raise ApiError(400, 'BadRequest', 'a strategic merge patch must be a JSON object')

            def mutate(obj: dict[str, Any]) -> Any:
                return _patches.strategic_merge_patch(obj, patch)
        else:
            raise ApiError(415, 'UnsupportedMediaType',
                           f'the body of the request was in an unknown format - accepted media types '
                           f'include: application/json-patch+json, application/merge-patch+json, '
                           f'application/strategic-merge-patch+json (got {content_type!r})')
        if sub == 'scale':
            return self._update_scale(rt, namespace, name, mutate, dry_run=dry_run)
        return self._update(rt, namespace, name, sub, mutate, dry_run=dry_run)

    def _update(self, rt: ResourceType, namespace: str | None, name: str, sub: str | None,
                mutate: Callable[[dict[str, Any]], Any], *, dry_run: bool) -> dict[str, Any]:
        old = self._require(rt, namespace, name)
        try:
            candidate = mutate(self._present(rt, old))
        except _patches.PatchError as e:
            raise ApiError(422, 'Invalid', f'{rt.qualified_kind} "{name}" is invalid: {e}', {
                'name': name, 'group': rt.group, 'kind': rt.kind}) from e
        if not isinstance(candidate, dict) or not isinstance(candidate.get('metadata', {}), dict):
            raise ApiError(422, 'Invalid', f'{rt.qualified_kind} "{name}" is invalid: not an object')
        if candidate.get('kind') not in (None, rt.kind):
            raise ApiError(400, 'BadRequest', f'the kind in the data ({candidate["kind"]}) does not '
                                              f'match the expected kind ({rt.kind})')
        old_meta = old['metadata']
        new_meta = candidate.setdefault('metadata', {})
        if new_meta.get('resourceVersion') not in (None, '', old_meta['resourceVersion']):
            raise self._conflict(rt, name)
        if new_meta.get('name', name) != name:
            raise self._invalid(rt, name, [_schema.FieldError(
                'metadata.name', 'FieldValueInvalid', 'Invalid value: field is immutable')])

        if sub == 'status':
            new = copy.deepcopy(old)
            if 'status' in candidate:
                new['status'] = candidate['status']
            else:
                new.pop('status', None)
        else:
            new = candidate
            if 'status' in rt.subresources:
                if 'status' in old:
                    new['status'] = copy.deepcopy(old['status'])
                else:
                    new.pop('status', None)
        new['apiVersion'], new['kind'] = rt.api_version, rt.kind
        meta = new.setdefault('metadata', {})
        for field in ('name', 'namespace', 'uid', 'creationTimestamp', 'deletionTimestamp',
                      'deletionGracePeriodSeconds', 'generation', 'resourceVersion'):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        meta.pop('managedFields', None)
        if old_meta.get('deletionTimestamp'):
            added = set(meta.get('finalizers') or []) - set(old_meta.get('finalizers') or [])
            if added:
                raise self._invalid(rt, name, [_schema.FieldError(
                    'metadata.finalizers', 'FieldValueForbidden',
                    f'Forbidden: no new finalizers can be added if the object is being deleted, '
                    f'found new finalizers {sorted(added)}')])
        if not meta.get('finalizers'):
            meta.pop('finalizers', None)
        new = self._admit(rt, new)
        if _without(new, 'metadata', 'status') != _without(self._present(rt, old), 'metadata', 'status'):
            meta['generation'] = int(old_meta.get('generation', 1)) + 1
        if new == self._present(rt, old):
            return self._present(rt, old)  # a no-op write: no new resourceVersion, no event
        if dry_run:
            return self._present(rt, new)
        if rt.plural == 'customresourcedefinitions' and rt.group == 'apiextensions.k8s.io' and sub is None:
            new['status'] = self._register_crd(new)
        stored = self._commit(rt, 'MODIFIED', new, old)
        if meta.get('deletionTimestamp') and not meta.get('finalizers'):
            self._finalize(rt, stored)
        return self._present(rt, stored)

    def _conflict(self, rt: ResourceType, name: str) -> ApiError:
        return ApiError(409, 'Conflict',
                        f'Operation cannot be fulfilled on {rt.qualified_plural} "{name}": the object '
                        f'has been modified; please apply your changes to the latest version and try again',
                        {'name': name, 'group': rt.group, 'kind': rt.plural})

    # --- scale subresource ---------------------------------------------------------------------

    def _scale_of(self, rt: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
        spec_path, status_path, selector_path = rt.scale_paths
        meta = obj['metadata']
        selector = _get_path(obj, selector_path) if selector_path else None
        if selector is None and isinstance(_get_path(obj, '.spec.selector.matchLabels'), Mapping):
            selector = ','.join(f'{k}={v}' for k, v in obj['spec']['selector']['matchLabels'].items())
        status: dict[str, Any] = {'replicas': _get_path(obj, status_path) or 0}
        if selector:
            status['selector'] = selector
        return {
            'kind': 'Scale', 'apiVersion': 'autoscaling/v1',
            'metadata': {key: meta[key] for key in ('name', 'namespace', 'uid', 'resourceVersion',
                                                    'creationTimestamp') if key in meta},
            'spec': {'replicas': _get_path(obj, spec_path) or 0},
            'status': status,
        }

    def _update_scale(self, rt: ResourceType, namespace: str | None, name: str,
                      mutate: Callable[[dict[str, Any]], Any], *, dry_run: bool) -> dict[str, Any]:
        old = self._require(rt, namespace, name)
        try:
            scale = mutate(self._scale_of(rt, old))
        except _patches.PatchError as e:
            raise ApiError(422, 'Invalid', f'Scale.autoscaling "{name}" is invalid: {e}') from e
        replicas = _get_path(scale, '.spec.replicas') if isinstance(scale, Mapping) else None
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise ApiError(422, 'Invalid', f'Scale.autoscaling "{name}" is invalid: spec.replicas: '
                                           f'Invalid value: {replicas!r}: must be greater than or equal to 0')
        rv = (scale.get('metadata') or {}).get('resourceVersion')
        if rv not in (None, '', old['metadata']['resourceVersion']):
            raise self._conflict(rt, name)

        def set_replicas(obj: dict[str, Any]) -> dict[str, Any]:
            _set_path(obj, rt.scale_paths[0], replicas)
            return obj

        updated = self._update(rt, namespace, name, None, set_replicas, dry_run=dry_run)
        return self._scale_of(rt, updated)

    # --- delete and garbage collection ---------------------------------------------------------

    def _delete(self, rt: ResourceType, namespace: str | None, name: str, options: Mapping[str, Any], *,
                dry_run: bool) -> tuple[int, dict[str, Any]]:
        obj = self._require(rt, namespace, name)
        meta = obj['metadata']
        preconditions = options.get('preconditions') or {}
        if preconditions.get('uid') not in (None, meta['uid']):
            raise ApiError(409, 'Conflict', f'Precondition failed: UID in precondition: '
                                            f'{preconditions["uid"]}, UID in object meta: {meta["uid"]}')
        if preconditions.get('resourceVersion') not in (None, meta['resourceVersion']):
            raise ApiError(409, 'Conflict', f'Precondition failed: ResourceVersion in precondition: '
                                            f'{preconditions["resourceVersion"]}, ResourceVersion in '
                                            f'object meta: {meta["resourceVersion"]}')
        policy = options.get('propagationPolicy') or (
            'Orphan' if str(options.get('orphanDependents')).lower() == 'true' else 'Background')
        if policy not in ('Orphan', 'Background', 'Foreground'):
            raise ApiError(422, 'Invalid', f'DeleteOptions is invalid: propagationPolicy: Unsupported '
                                           f'value: "{policy}"')
        if dry_run:
            return 200, self._present(rt, obj)
        if meta.get('deletionTimestamp'):
            return 202, self._present(rt, obj)
        if policy == 'Orphan':
            self._orphaning.add(meta['uid'])
        is_namespace = rt.plural == 'namespaces' and not rt.group
        finalizers = list(meta.get('finalizers') or [])
        if policy == 'Foreground' and self._dependents(meta['uid']):
            finalizers.append('foregroundDeletion')
        if finalizers or is_namespace:
            new = copy.deepcopy(obj)
            new['metadata']['deletionTimestamp'] = _now()
            new['metadata']['deletionGracePeriodSeconds'] = 0
            if finalizers:
                new['metadata']['finalizers'] = finalizers
            if is_namespace:
                new['status'] = {'phase': 'Terminating'}
            stored = self._commit(rt, 'MODIFIED', new, obj)
            if policy == 'Foreground':
                self._collect_dependents(meta['uid'], orphan=False)
            if is_namespace:
                self._empty_namespace(name)
                current = self._live(rt, None, name)
                if current is None:
                    return 200, self._success(rt, stored)
                return 202, self._present(rt, current)
            return 202, self._present(rt, stored)
        self._finalize(rt, obj)
        return 200, self._success(rt, obj)

    def _success(self, rt: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
        meta = obj['metadata']
        return {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success',
                'details': {'name': meta['name'], 'group': rt.group, 'kind': rt.plural, 'uid': meta['uid']}}

    def _delete_collection(self, rt: ResourceType, namespace: str | None, params: Mapping[str, str], *,
                           dry_run: bool) -> dict[str, Any]:
        listing = self._list(rt, namespace, params)
        for item in listing['items']:
            meta = item['metadata']
            if self._live(rt, meta.get('namespace'), meta['name']) is not None:
                self._delete(rt, meta.get('namespace'), meta['name'], {}, dry_run=dry_run)
        return listing

    def _finalize(self, rt: ResourceType, obj: Mapping[str, Any]) -> None:
        """Remove an object for good, then cascade to its dependents (the garbage collector's job)."""
        meta = obj['metadata']
        gone = copy.deepcopy(dict(obj))
        self._commit(rt, 'DELETED', gone, obj)
        uid = meta['uid']
        orphan = uid in self._orphaning
        self._orphaning.discard(uid)
        if rt.plural == 'customresourcedefinitions' and rt.group == 'apiextensions.k8s.io':
            self._unregister_crd(obj)
        self._collect_dependents(uid, orphan=orphan)
        self._release_foreground_owners(obj)
        namespace = meta.get('namespace')
        if namespace:
            ns_obj = self._live(self._types['', 'v1', 'namespaces'], None, namespace)
            if ns_obj is not None and ns_obj['metadata'].get('deletionTimestamp'):
                self._finish_namespace(namespace)

    def _dependents(self, uid: str) -> list[tuple[ResourceType, dict[str, Any]]]:
        found = []
        for (res, _, _), stored in list(self._objects.items()):
            if stored.deleted:
                continue
            obj = stored.last.raw
            refs = (obj.get('metadata') or {}).get('ownerReferences') or []
            if any(ref.get('uid') == uid for ref in refs):
                rt = self._type_of_storage(res)
                if rt is not None:
                    found.append((rt, obj))
        return found

    def _uid_exists(self, uid: str) -> bool:
        return any(not stored.deleted and stored.last.raw['metadata'].get('uid') == uid
                   for stored in self._objects.values())

    def _collect_dependents(self, uid: str, *, orphan: bool) -> None:
        for rt, dep in self._dependents(uid):
            meta = dep['metadata']
            current = self._live(rt, meta.get('namespace'), meta['name'])
            if current is None or current['metadata']['uid'] != meta['uid']:
                continue
            refs = current['metadata'].get('ownerReferences') or []
            if orphan:
                remaining = [ref for ref in refs if ref.get('uid') != uid]
            else:
                remaining = [ref for ref in refs if ref.get('uid') != uid and self._uid_exists(ref['uid'])]
            if orphan or remaining:
                new = copy.deepcopy(current)
                if remaining:
                    new['metadata']['ownerReferences'] = remaining
                else:
                    new['metadata'].pop('ownerReferences', None)
                self._commit(rt, 'MODIFIED', new, current)
            elif not current['metadata'].get('deletionTimestamp'):
                self._delete(rt, meta.get('namespace'), meta['name'], {}, dry_run=False)

    def _release_foreground_owners(self, obj: Mapping[str, Any]) -> None:
        for ref in (obj.get('metadata') or {}).get('ownerReferences') or []:
            for (res, _, _), stored in list(self._objects.items()):
                if stored.deleted:
                    continue
                owner = stored.last.raw
                owner_meta = owner['metadata']
                if owner_meta.get('uid') != ref.get('uid'):
                    continue
                if 'foregroundDeletion' in (owner_meta.get('finalizers') or []) \
                        and not self._dependents(owner_meta['uid']):
                    rt = self._type_of_storage(res)
                    if rt is None:
                        continue
                    new = copy.deepcopy(owner)
                    new['metadata']['finalizers'] = [f for f in owner_meta['finalizers']
                                                     if f != 'foregroundDeletion']
                    if not new['metadata']['finalizers']:
                        new['metadata'].pop('finalizers')
                    stored_new = self._commit(rt, 'MODIFIED', new, owner)
                    if not stored_new['metadata'].get('finalizers'):
                        self._finalize(rt, stored_new)

    def _empty_namespace(self, namespace: str) -> None:
        for (res, ns, name), stored in list(self._objects.items()):
            if ns != namespace or stored.deleted:
                continue
            rt = self._type_of_storage(res)
            if rt is not None and self._live(rt, ns, name) is not None \
                    and not stored.last.raw['metadata'].get('deletionTimestamp'):
                self._delete(rt, ns, name, {}, dry_run=False)
        self._finish_namespace(namespace)

    def _finish_namespace(self, namespace: str) -> None:
        ns_type = self._types['', 'v1', 'namespaces']
        ns_obj = self._live(ns_type, None, namespace)
        if ns_obj is None or ns_obj['metadata'].get('finalizers'):
            return
        if any(ns == namespace and not stored.deleted for (_, ns, _), stored in self._objects.items()):
            return
        self._finalize(ns_type, ns_obj)

    # --- CRDs ----------------------------------------------------------------------------------

    def _register_crd(self, crd: Mapping[str, Any]) -> dict[str, Any]:
        spec = crd.get('spec') or {}
        names = spec.get('names') or {}
        group, plural, kind = spec.get('group'), names.get('plural'), names.get('kind')
        name = (crd.get('metadata') or {}).get('name')
        crd_type = self._types['apiextensions.k8s.io', 'v1', 'customresourcedefinitions']
        if not group or not plural or not kind or name != f'{plural}.{group}':
            raise self._invalid(crd_type, name or '', [_schema.FieldError(
                'metadata.name', 'FieldValueInvalid',
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')])
        versions = [v for v in spec.get('versions') or [] if v.get('served', True)]
        storage = next((v['name'] for v in versions if v.get('storage')), versions[0]['name'] if versions
                       else None)
        for (g, _, p) in [key for key in self._types if key[0] == group and key[2] == plural]:
            del self._types[g, _, p]
        for version in versions:
            subs = version.get('subresources') or {}
            scale = subs.get('scale') or {}
            self.register(ResourceType(
                group=group, version=version['name'], plural=plural, kind=kind,
                singular=names.get('singular') or kind.lower(),
                namespaced=spec.get('scope', 'Namespaced') == 'Namespaced',
                subresources=frozenset(key for key in ('status', 'scale') if key in subs),
                short_names=tuple(names.get('shortNames') or ()),
                categories=tuple(names.get('categories') or ()),
                schema=(version.get('schema') or {}).get('openAPIV3Schema'),
                storage_version=storage,
                scale_paths=(scale.get('specReplicasPath', '.spec.replicas'),
                             scale.get('statusReplicasPath', '.status.replicas'),
                             scale.get('labelSelectorPath')),
                custom=True,
            ))
        return {
            'acceptedNames': dict(names),
            'storedVersions': [storage] if storage else [],
            'conditions': [
                {'type': 'NamesAccepted', 'status': 'True', 'reason': 'NoConflicts',
                 'lastTransitionTime': _now(), 'message': 'no conflicts found'},
                {'type': 'Established', 'status': 'True', 'reason': 'InitialNamesAccepted',
                 'lastTransitionTime': _now(), 'message': 'the initial names have been accepted'},
            ],
        }

    def _unregister_crd(self, crd: Mapping[str, Any]) -> None:
        spec = crd.get('spec') or {}
        group, plural = spec.get('group'), (spec.get('names') or {}).get('plural')
        doomed = [rt for key, rt in self._types.items() if (key[0], key[2]) == (group, plural)]
        for rt in doomed[:1]:
            for obj in self._live_all(rt):
                self._commit(rt, 'DELETED', copy.deepcopy(obj), obj)
        for rt in doomed:
            del self._types[rt.group, rt.version, rt.plural]
            del self._resources[rt.resource]

    # --- list and watch ------------------------------------------------------------------------

    def _selectors(self, rt: ResourceType, params: Mapping[str, str]
                   ) -> tuple[list[_selectors.Requirement], list[_selectors.Requirement]]:
        try:
            labels = _selectors.parse_label_selector(params.get('labelSelector'))
            fields = _selectors.parse_field_selector(params.get('fieldSelector'), rt.allows_field)
        except _selectors.SelectorError as e:
            raise ApiError(400, 'BadRequest', str(e)) from e
        return labels, fields

    def _list(self, rt: ResourceType, namespace: str | None, params: Mapping[str, str]) -> dict[str, Any]:
        labels, fields = self._selectors(rt, params)
        items = [self._present(rt, obj) for obj in self._live_all(rt, namespace)
                 if _selectors.matches(obj, labels, fields)]
        items.sort(key=lambda o: (o['metadata'].get('namespace') or '', o['metadata']['name']))
        return {'apiVersion': rt.api_version, 'kind': f'{rt.kind}List',
                'metadata': {'resourceVersion': str(self._rv)}, 'items': items}

    async def _stream_watch(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        raw = request._raw_request
        assert raw is not None
        parsed = parse_path(raw.path)
        assert parsed is not None and parsed.plural is not None
        rt = self._types.get((parsed.group, parsed.version, parsed.plural))
        if rt is None:
            raise ApiError(404, 'NotFound', 'the server could not find the requested resource')
        params = request.params
        labels, fields = self._selectors(rt, params)
        if parsed.name:
            fields = [*fields, _selectors.Requirement('metadata.name', '=', frozenset([parsed.name]))]
        namespace = parsed.namespace
        since = params.get('resourceVersion') or '0'
        if not since.isdigit():
            raise ApiError(400, 'BadRequest', f'invalid resource version: {since!r}')
        timeout = float(params['timeoutSeconds']) if params.get('timeoutSeconds') else None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout

        def wanted(obj: Mapping[str, Any] | None) -> bool:
            if obj is None:
                return False
            if namespace is not None and (obj.get('metadata') or {}).get('namespace') != namespace:
                return False
            return _selectors.matches(obj, labels, fields)

        response = aiohttp.web.StreamResponse(status=200)
        response.content_type = 'application/json'
        await response.prepare(raw)

        async def send(kind: str, obj: Mapping[str, Any]) -> None:
            await response.write(json.dumps({'type': kind, 'object': obj}).encode() + b'\n')

        try:
            if since == '0':
                cursor = self._rv
                initial = sorted((obj for obj in self._live_all(rt, namespace) if wanted(obj)),
                                 key=lambda o: int(o['metadata']['resourceVersion']))
                for obj in initial:
                    await send('ADDED', self._present(rt, obj))
                if params.get('sendInitialEvents') == 'true':
                    await send('BOOKMARK', {'kind': rt.kind, 'apiVersion': rt.api_version, 'metadata': {
                        'resourceVersion': str(cursor), 'annotations': {INITIAL_EVENTS_END: 'true'}}})
            else:
                cursor = int(since)
            while not self._closing:
                if cursor < self._compacted_rv:
                    await send('ERROR', ApiError(
                        410, 'Expired',
                        f'too old resource version: {cursor} ({self._compacted_rv + 1})').status())
                    break
                start = bisect.bisect_right(self._log, cursor, key=lambda entry: entry.rv)
                for entry in self._log[start:]:
                    cursor = entry.rv
                    if entry.storage != rt.storage:
                        continue
                    event = self._transform(entry, wanted)
                    if event is not None:
                        await send(event, self._present(rt, entry.obj))
                if self._log and self._log[-1].rv > cursor:
                    continue  # more writes arrived while this stream was sending
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    break
                if self._wakeup is None:
                    self._wakeup = loop.create_future()
                await asyncio.wait({self._wakeup}, timeout=remaining)
            await response.write_eof()
        except ConnectionError:
            pass  # the client has gone away
        return response

    @staticmethod
    def _transform(entry: LogEntry, wanted: Callable[[Mapping[str, Any] | None], bool]) -> str | None:
        # Selector-filtered watches turn "left the selection" into DELETED and "entered" into ADDED.
        now, before = wanted(entry.obj), wanted(entry.prev)
        if entry.type == 'MODIFIED':
            return 'MODIFIED' if now and before else 'ADDED' if now else 'DELETED' if before else None
        return entry.type if now else None


__all__ = ['ApiError', 'CRDLoadError', 'KubernetesEmulator', 'ResourceType', 'load_crd_documents',
           'parse_path']
