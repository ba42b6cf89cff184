"""Label and field selectors, parsed as the Kubernetes API server parses them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

_KEY = r'[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?'
_VALUE = r'([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?'
_EXISTS_RE = re.compile(rf'^\s*(?P<neg>!)?\s*(?P<key>{_KEY})\s*$')
_EQ_RE = re.compile(rf'^\s*(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})\s*$')
_SET_RE = re.compile(rf'^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$')


class SelectorError(ValueError):
    """A selector that the API server would reject with 400 Bad Request."""


@dataclasses.dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # one of: exists, !exists, =, !=, in, notin
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, Any]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.op:
            case 'exists':
                return present
            case '!exists':
                return not present
            case '=' | 'in':
                return present and value in self.values
            case '!=' | 'notin':
                return not present or value not in self.values
        raise AssertionError(self.op)


def _split_top_level(text: str) -> list[str]:
    # Commas inside "in (a,b)" belong to the set, not to the requirement list.
    parts: list[str] = []
    depth = 0
    current = ''
    for char in text:
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
        if char == ',' and depth == 0:
            parts.append(current)
            current = ''
        else:
            current += char
    parts.append(current)
    return parts


def parse_label_selector(text: str | None) -> list[Requirement]:
    if not text or not text.strip():
        return []
    requirements: list[Requirement] = []
    for part in _split_top_level(text):
        if m := _SET_RE.match(part):
            values = frozenset(v.strip() for v in m['values'].split(',') if v.strip())
            requirements.append(Requirement(m['key'], m['op'], values))
        elif m := _EQ_RE.match(part):
            op = '!=' if m['op'] == '!=' else '='
            requirements.append(Requirement(m['key'], op, frozenset([m['value']])))
        elif m := _EXISTS_RE.match(part):
            requirements.append(Requirement(m['key'], '!exists' if m['neg'] else 'exists'))
        else:
            raise SelectorError(f'unable to parse requirement: {part.strip()!r}')
    return requirements


def parse_field_selector(text: str | None, allowed: Callable[[str], bool]) -> list[Requirement]:
    if not text or not text.strip():
        return []
    requirements: list[Requirement] = []
    for part in text.split(','):
        m = re.match(r'^\s*(?P<key>[A-Za-z0-9_.]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^,]*?)\s*$', part)
        if not m:
            raise SelectorError(f'invalid selector: {text!r}; can\'t understand {part.strip()!r}')
        if not allowed(m['key']):
            raise SelectorError(f'field label not supported: {m["key"]}')
        op = '!=' if m['op'] == '!=' else '='
        requirements.append(Requirement(m['key'], op, frozenset([m['value']])))
    return requirements


def field_value(obj: Mapping[str, Any], path: str) -> str:
    value: Any = obj
    for step in path.split('.'):
        value = value.get(step) if isinstance(value, Mapping) else None
    return '' if value is None else str(value)


def matches(
        obj: Mapping[str, Any],
        labels: list[Requirement],
        fields: list[Requirement],
) -> bool:
    obj_labels = (obj.get('metadata') or {}).get('labels') or {}
    if not all(req.matches(obj_labels) for req in labels):
        return False
    # Field selectors compare a missing field as the empty string, like the API server.
    return all(req.matches({req.key: field_value(obj, req.key)}) for req in fields)
