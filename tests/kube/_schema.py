"""Pruning, defaulting and validation of custom resources by a CRD's ``openAPIV3Schema``.

Error texts follow the API server's field errors, so a test can assert on what a user would see.
Not covered: CEL rules (``x-kubernetes-validations``), formats other than date-time/date/uuid,
ratcheting.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]

_FORMATS: dict[str, re.Pattern[str]] = {
    'date-time': re.compile(r'^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$'),
    'date': re.compile(r'^\d{4}-\d{2}-\d{2}$'),
    'uuid': re.compile(r'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'),
}


@dataclasses.dataclass(frozen=True)
class FieldError:
    field: str
    reason: str  # a Kubernetes CauseType, e.g. FieldValueRequired
    detail: str  # the text after "field: "

    def __str__(self) -> str:
        return f'{self.field}: {self.detail}'


def _quote(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else json.dumps(value, separators=(',', ':'))


def _type_name(value: Any) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, float):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, list):
        return 'array'
    return 'object'


def _child(path: str, key: str) -> str:
    return f'{path}.{key}' if path else key


def prune_and_default(value: Any, schema: Schema, *, root: bool = False) -> Any:
    """Drop unknown fields and nulls of non-nullable fields, fill defaults (in this order)."""
    if not isinstance(schema, Mapping):
        return value
    if isinstance(value, dict):
        props: Mapping[str, Schema] = schema.get('properties') or {}
        additional = schema.get('additionalProperties')
        preserve = bool(schema.get('x-kubernetes-preserve-unknown-fields'))
        embedded = bool(schema.get('x-kubernetes-embedded-resource'))
        result: dict[str, Any] = {}
        for key, item in value.items():
            if (root or embedded) and key in ('apiVersion', 'kind', 'metadata'):
                result[key] = item
            elif key in props:
                if item is None and not props[key].get('nullable'):
                    continue
                result[key] = prune_and_default(item, props[key])
            elif isinstance(additional, Mapping):
                result[key] = prune_and_default(item, additional)
            elif preserve or additional is True:
                result[key] = item
        for key, sub in props.items():
            if key not in result and isinstance(sub, Mapping) and 'default' in sub:
                result[key] = prune_and_default(copy.deepcopy(sub['default']), sub)
        return result
    if isinstance(value, list) and isinstance(schema.get('items'), Mapping):
        return [prune_and_default(item, schema['items']) for item in value]
    return value


def validate(value: Any, schema: Schema, path: str = '', *, root: bool = False) -> list[FieldError]:
    errors: list[FieldError] = []
    if not isinstance(schema, Mapping):
        return errors
    if value is None:
        if not schema.get('nullable') and schema.get('type'):
            errors.append(FieldError(path, 'FieldValueInvalid',
                                     f'Invalid value: "null": {path} in body must be of type '
                                     f'{schema["type"]}: "null"'))
        return errors

    declared = schema.get('type')
    int_or_string = schema.get('x-kubernetes-int-or-string')
    actual = _type_name(value)
    if int_or_string:
        if actual not in ('integer', 'string'):
            errors.append(FieldError(path, 'FieldValueInvalid',
                                     f'Invalid value: "{actual}": {path} in body must be of type '
                                     f'integer or string: "{actual}"'))
            return errors
    elif declared and not (actual == declared or (declared == 'number' and actual == 'integer')):
        errors.append(FieldError(path, 'FieldValueInvalid',
                                 f'Invalid value: "{actual}": {path} in body must be of type '
                                 f'{declared}: "{actual}"'))
        return errors

    if 'enum' in schema and value not in schema['enum']:
        supported = ', '.join(_quote(v) for v in schema['enum'])
        errors.append(FieldError(path, 'FieldValueNotSupported',
                                 f'Unsupported value: {_quote(value)}: supported values: {supported}'))

    if actual in ('integer', 'number'):
        errors.extend(_validate_number(value, schema, path))
    elif actual == 'string':
        errors.extend(_validate_string(value, schema, path))
    elif actual == 'array':
        errors.extend(_validate_array(value, schema, path))
    elif actual == 'object':
        errors.extend(_validate_object(value, schema, path, root=root))

    for combinator in ('allOf', 'anyOf', 'oneOf'):
        subs = schema.get(combinator) or []
        if not subs:
            continue
        passed = [not validate(value, sub, path) for sub in subs]
        if combinator == 'allOf':
            for sub in subs:
                errors.extend(validate(value, sub, path))
        elif combinator == 'anyOf' and not any(passed):
            errors.append(FieldError(path, 'FieldValueInvalid',
                                     f'Invalid value: {_quote(value)}: {path} in body must validate '
                                     f'at least one schema (anyOf)'))
        elif combinator == 'oneOf' and sum(passed) != 1:
            errors.append(FieldError(path, 'FieldValueInvalid',
                                     f'Invalid value: {_quote(value)}: {path} in body must validate '
                                     f'one and only one schema (oneOf)'))
    if isinstance(schema.get('not'), Mapping) and not validate(value, schema['not'], path):
        errors.append(FieldError(path, 'FieldValueInvalid',
                                 f'Invalid value: {_quote(value)}: {path} in body should not be '
                                 f'valid against the schema'))
    return errors


def _validate_number(value: float, schema: Schema, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    lo, hi = schema.get('minimum'), schema.get('maximum')
    if lo is not None:
        if schema.get('exclusiveMinimum') and value <= lo:
            errors.append(FieldError(path, 'FieldValueInvalid',
                                     f'Invalid value: {_quote(value)}: {path} in body should be '
                                     f'greater than {lo}'))
        elif value < lo:
            errors.append(FieldError(path, 'FieldValueInvalid',
                                     f'Invalid value: {_quote(value)}: {path} in body should be '
                                     f'greater than or equal to {lo}'))
    if hi is not None:
        if schema.get('exclusiveMaximum') and value >= hi:
            errors.append(FieldError(path, 'FieldValueInvalid',
                                     f'Invalid value: {_quote(value)}: {path} in body should be '
                                     f'less than {hi}'))
        elif value > hi:
            errors.append(FieldError(path, 'FieldValueInvalid',
                                     f'Invalid value: {_quote(value)}: {path} in body should be '
                                     f'less than or equal to {hi}'))
    if schema.get('multipleOf') and value % schema['multipleOf']:
        errors.append(FieldError(path, 'FieldValueInvalid',
                                 f'Invalid value: {_quote(value)}: {path} in body should be a '
                                 f'multiple of {schema["multipleOf"]}'))
    return errors


def _validate_string(value: str, schema: Schema, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if schema.get('maxLength') is not None and len(value) > schema['maxLength']:
        errors.append(FieldError(path, 'FieldValueTooLong',
                                 f'Too long: may not be longer than {schema["maxLength"]}'))
    if schema.get('minLength') is not None and len(value) < schema['minLength']:
        errors.append(FieldError(path, 'FieldValueInvalid',
                                 f'Invalid value: {_quote(value)}: {path} in body should be at least '
                                 f'{schema["minLength"]} chars long'))
    fmt = _FORMATS.get(schema.get('format') or '')
    if fmt is not None and not fmt.match(value):
        errors.append(FieldError(path, 'FieldValueInvalid',
                                 f'Invalid value: {_quote(value)}: {path} in body must be of type '
                                 f'{schema["format"]}: {_quote(value)}'))
    if schema.get('pattern') and not re.search(schema['pattern'], value):
        errors.append(FieldError(path, 'FieldValueInvalid',
                                 f'Invalid value: {_quote(value)}: {path} in body should match '
                                 f"'{schema['pattern']}'"))
    return errors


def _validate_array(value: list[Any], schema: Schema, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if schema.get('maxItems') is not None and len(value) > schema['maxItems']:
        errors.append(FieldError(path, 'FieldValueTooMany',
                                 f'Too many: {len(value)}: must have at most {schema["maxItems"]} items'))
    if schema.get('minItems') is not None and len(value) < schema['minItems']:
        errors.append(FieldError(path, 'FieldValueInvalid',
                                 f'Invalid value: {len(value)}: {path} in body should have at least '
                                 f'{schema["minItems"]} items'))
    seen: list[Any] = []
    list_type = schema.get('x-kubernetes-list-type')
    map_keys = schema.get('x-kubernetes-list-map-keys') or []
    for index, item in enumerate(value):
        item_path = f'{path}[{index}]'
        if schema.get('uniqueItems') or list_type in ('set', 'map'):
            identity = ({key: item.get(key) for key in map_keys}
                        if list_type == 'map' and isinstance(item, Mapping) else item)
            if identity in seen:
                shown = (f'map[string]interface {{}}{_quote(identity)}' if list_type == 'map'
                         else _quote(identity))
                errors.append(FieldError(item_path, 'FieldValueDuplicate', f'Duplicate value: {shown}'))
            seen.append(identity)
        if isinstance(schema.get('items'), Mapping):
            errors.extend(validate(item, schema['items'], item_path))
    return errors


def _validate_object(value: dict[str, Any], schema: Schema, path: str, *, root: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    for key in schema.get('required') or []:
        if key not in value:
            errors.append(FieldError(_child(path, key), 'FieldValueRequired', 'Required value'))
    if schema.get('maxProperties') is not None and len(value) > schema['maxProperties']:
        errors.append(FieldError(path, 'FieldValueTooMany',
                                 f'Too many: {len(value)}: must have at most '
                                 f'{schema["maxProperties"]} items'))
    if schema.get('minProperties') is not None and len(value) < schema['minProperties']:
        errors.append(FieldError(path, 'FieldValueInvalid',
                                 f'Invalid value: {len(value)}: {path} in body should have at least '
                                 f'{schema["minProperties"]} properties'))
    props: Mapping[str, Schema] = schema.get('properties') or {}
    additional = schema.get('additionalProperties')
    for key, item in value.items():
        if root and key in ('apiVersion', 'kind', 'metadata'):
            continue
        if key in props:
            errors.extend(validate(item, props[key], _child(path, key)))
        elif isinstance(additional, Mapping):
            errors.extend(validate(item, additional, f'{path}[{key}]' if path else key))
    return errors
