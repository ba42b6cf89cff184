"""JSON patch (RFC 6902), JSON merge patch (RFC 7386) and Kubernetes strategic merge patch."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any


class PatchError(ValueError):
    """The patch cannot be applied (the API server answers 422)."""


class PatchTestFailed(PatchError):
    """A JSON-patch ``test`` operation did not hold."""


# --- JSON merge patch ---------------------------------------------------------------------------

def json_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


# --- JSON patch ---------------------------------------------------------------------------------

def _pointer(path: str) -> list[str]:
    if path == '':
        return []
    if not path.startswith('/'):
        raise PatchError(f'invalid JSON pointer: {path!r}')
    return [part.replace('~1', '/').replace('~0', '~') for part in path[1:].split('/')]


def _index(container: list[Any], token: str, *, for_insert: bool) -> int:
    if token == '-' and for_insert:
        return len(container)
    if not token.isdigit():
        raise PatchError(f'invalid array index: {token!r}')
    index = int(token)
    if index > len(container) or (index == len(container) and not for_insert):
        raise PatchError(f'array index out of range: {index}')
    return index


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, for_insert=False)]
        else:
            raise PatchError(f'path not found: {path}')
    return node


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, for_insert=False)]
    raise PatchError(f'path not found: {path}')


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError('cannot remove the document root')
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, for_insert=False))
    raise PatchError(f'path not found: {path}')


def _add(doc: Any, path: str, value: Any, *, replace: bool = False) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise PatchError(f'path not found: {path}')
        parent[last] = value
    elif isinstance(parent, list):
        if replace:
            parent[_index(parent, last, for_insert=False)] = value
        else:
            parent.insert(_index(parent, last, for_insert=True), value)
    else:
        raise PatchError(f'path not found: {path}')
    return doc


def json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError('a JSON patch must be a list of operations')
    result = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, Mapping) or 'op' not in op or 'path' not in op:
            raise PatchError(f'invalid JSON patch operation: {op!r}')
        kind, path = op['op'], op['path']
        match kind:
            case 'add':
                result = _add(result, path, copy.deepcopy(op.get('value')))
            case 'replace':
                result = _add(result, path, copy.deepcopy(op.get('value')), replace=True)
            case 'remove':
                _remove(result, path)
            case 'move':
                value = _remove(result, op['from'])
                result = _add(result, path, value)
            case 'copy':
                result = _add(result, path, copy.deepcopy(_get(result, op['from'])))
            case 'test':
                try:
                    actual = _get(result, path)
                except PatchError:
                    actual = None
                if actual != op.get('value'):
                    raise PatchTestFailed(
                        f'the test operation failed: {path} is {actual!r}, not {op.get("value")!r}')
            case _:
                raise PatchError(f'unknown JSON patch operation: {kind!r}')
    return result


# --- Strategic merge patch ----------------------------------------------------------------------

# patchMergeKey of the built-in types, by field name (the same field name has the same key
# everywhere in the core API, except "ports", which is resolved by its items' shape).
MERGE_KEYS: dict[str, str] = {
    'containers': 'name',
    'initContainers': 'name',
    'ephemeralContainers': 'name',
    'env': 'name',
    'volumes': 'name',
    'volumeMounts': 'mountPath',
    'volumeDevices': 'devicePath',
    'imagePullSecrets': 'name',
    'ownerReferences': 'uid',
    'conditions': 'type',
    'hostAliases': 'ip',
    'topologySpreadConstraints': 'topologyKey',
    'resourceClaims': 'name',
    'secrets': 'name',
}
# Primitive lists with patchStrategy=merge: items are unioned, not replaced.
MERGE_PRIMITIVE_LISTS = frozenset({'finalizers'})

_DIRECTIVE = '$patch'
_RETAIN_KEYS = '$retainKeys'
_ORDER_PREFIX = '$setElementOrder/'
_DELETE_PRIMITIVE_PREFIX = '$deleteFromPrimitiveList/'
_DELETE = object()


def _merge_key(field: str, *lists: Sequence[Any]) -> str | None:
    if field == 'ports':
        items = [item for lst in lists for item in lst if isinstance(item, Mapping)]
        return 'containerPort' if any('containerPort' in item for item in items) else 'port'
    return MERGE_KEYS.get(field)


def _strip_directives(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            key: _strip_directives(val) for key, val in value.items()
            if not (key in (_DIRECTIVE, _RETAIN_KEYS) or key.startswith((_ORDER_PREFIX,
                                                                          _DELETE_PRIMITIVE_PREFIX)))
        }
    if isinstance(value, list):
        return [_strip_directives(item) for item in value
                if not (isinstance(item, Mapping) and item.get(_DIRECTIVE) == 'replace' and len(item) == 1)]
    return copy.deepcopy(value)


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    result = _smp_map(target if isinstance(target, Mapping) else {}, patch)
    if result is _DELETE:
        raise PatchError('cannot delete the whole object with a strategic merge patch')
    return result


def _smp_map(target: Mapping[str, Any], patch: Any) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    directive = patch.get(_DIRECTIVE)
    if directive == 'delete':
        return _DELETE
    if directive == 'replace':
        return _strip_directives(patch)
    if directive not in (None, 'merge'):
        raise PatchError(f'unknown patch directive: {directive!r}')

    result: dict[str, Any] = copy.deepcopy(dict(target))
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN_KEYS):
            continue
        if key.startswith(_ORDER_PREFIX):
            orders[key[len(_ORDER_PREFIX):]] = list(value or [])
            continue
        if key.startswith(_DELETE_PRIMITIVE_PREFIX):
            field = key[len(_DELETE_PRIMITIVE_PREFIX):]
            if isinstance(result.get(field), list):
                result[field] = [item for item in result[field] if item not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            current = result.get(key)
            merged = _smp_map(current if isinstance(current, Mapping) else {}, value)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(key, result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)

    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _reorder(field, result[field], order)
    if _RETAIN_KEYS in patch:
        retained = set(patch[_RETAIN_KEYS] or [])
        result = {key: val for key, val in result.items() if key in retained}
    return result


def _smp_list(field: str, target: Any, patch: list[Any]) -> list[Any]:
    current: list[Any] = list(target) if isinstance(target, list) else []
    if any(isinstance(item, Mapping) and item.get(_DIRECTIVE) == 'replace' and len(item) == 1
           for item in patch):
        return _strip_directives(patch)  # type: ignore[no-any-return]

    if field in MERGE_PRIMITIVE_LISTS:
        merged = copy.deepcopy(current)
        for item in patch:
            if item not in merged:
                merged.append(copy.deepcopy(item))
        return merged

    key = _merge_key(field, current, patch)
    if key is None or not all(isinstance(item, Mapping) for item in patch):
        return _strip_directives(patch)  # type: ignore[no-any-return]

    merged = copy.deepcopy(current)
    for item in patch:
        if key not in item:
            raise PatchError(f'map in the list {field!r} does not contain the merge key {key!r}')
        positions = [i for i, existing in enumerate(merged)
                     if isinstance(existing, Mapping) and existing.get(key) == item[key]]
        if item.get(_DIRECTIVE) == 'delete':
            merged = [existing for i, existing in enumerate(merged) if i not in positions]
        elif positions:
            existing = merged[positions[0]]
            merged[positions[0]] = _smp_map(existing if isinstance(existing, Mapping) else {}, item)
        else:
            merged.append(_strip_directives(item))
    return merged


def _reorder(field: str, items: list[Any], order: list[Any]) -> list[Any]:
    key = _merge_key(field, items, order)

    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, Mapping) else item

    wanted = [ident(item) for item in order]
    ranked = sorted(enumerate(items), key=lambda pair: (
        wanted.index(ident(pair[1])) if ident(pair[1]) in wanted else len(wanted), pair[0]))
    return [item for _, item in ranked]
