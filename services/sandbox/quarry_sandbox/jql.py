"""A small JQL subset: enough for what extractors send, strict enough to fail like Jira.

Supported: ``AND``/``OR``/``NOT``/parentheses; ``project``, ``key``/``issuekey``, ``id``, ``status``,
``statusCategory``, ``issuetype``/``type`` with ``=``, ``!=``, ``in``, ``not in``; ``updated`` and
``created`` with ``= != > >= < <=`` against epoch milliseconds, ``"yyyy/MM/dd HH:mm"``,
``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd"``, relative ``-5d``/``-4h``/``-30m``/``-2w`` or ``now()``;
``ORDER BY`` over ``updated``, ``created``, ``key``, ``id``, ``project``.  Bare dates are read in the
API user's profile timezone at minute granularity, as Jira does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class JqlError(ValueError):
    """Raised with the message Jira would put into ``errorMessages``."""


class IssueView(Protocol):
    """What a predicate needs to know about an issue."""

    @property
    def key(self) -> str: ...
    @property
    def id(self) -> int: ...
    @property
    def project_key(self) -> str: ...
    @property
    def project_id(self) -> str: ...
    @property
    def project_name(self) -> str: ...
    @property
    def number(self) -> int: ...
    @property
    def updated_ms(self) -> int: ...
    @property
    def created_ms(self) -> int: ...
    @property
    def status_id(self) -> str: ...
    @property
    def status_name(self) -> str: ...
    @property
    def status_category(self) -> tuple[int, str, str]: ...
    @property
    def type_id(self) -> str: ...
    @property
    def type_name(self) -> str: ...


class Catalog(Protocol):
    """What the parser needs to validate values (unknown projects/keys are 400s in Jira)."""

    def has_project(self, ref: str) -> bool: ...
    def has_issue_key(self, key: str) -> bool: ...


Predicate = Callable[[IssueView], bool]

_TOKEN = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>!=|>=|<=|!~|[=<>~(),])|(?P<word>[^\s=!<>~(),"']+))"""
)
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_RELATIVE = re.compile(r"^([+-]?)(\d+)([wdhm])$")
_UNIT_MS = {"w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000}
_DATE_FIELDS = {"updated", "updateddate", "created", "createddate"}
_SORT_FIELDS = {"updated", "created", "key", "issuekey", "id", "project"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # str | op | word
    text: str


@dataclass(frozen=True, slots=True)
class SortKey:
    field: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Query:
    predicate: Predicate | None
    order: tuple[SortKey, ...]
    bounded: bool

    def matches(self, issue: IssueView) -> bool:
        return self.predicate is None or self.predicate(issue)

    def sort_key(self) -> Callable[[IssueView], tuple[object, ...]]:
        order = self.order or (SortKey("id", True),)

        def key_of(issue: IssueView) -> tuple[object, ...]:
            parts: list[object] = []
            for sk in order:
                sign = -1 if sk.descending else 1
                if sk.field == "updated":
                    parts.append(sign * issue.updated_ms)
                elif sk.field == "created":
                    parts.append(sign * issue.created_ms)
                elif sk.field in ("key", "issuekey"):
                    # Jira sorts keys by project then number; string negation is not possible, so
                    # descending keys use the negated number within an inverted project rank.
                    if sk.descending:
                        parts.append(tuple(-ord(c) for c in issue.project_key))
                        parts.append(-issue.number)
                    else:
                        parts.append(issue.project_key)
                        parts.append(issue.number)
                elif sk.field == "id":
                    parts.append(sign * issue.id)
                elif sk.field == "project":
                    parts.append(
                        tuple(-ord(c) for c in issue.project_key) if sk.descending else issue.project_key
                    )
            parts.append(issue.id)
            return tuple(parts)

        return key_of


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise JqlError(
                f"Error in the JQL Query: The character '{text[pos]}' is a reserved JQL character."
            )
        pos = m.end()
        kind = m.lastgroup or "word"
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        toks.append(_Tok(kind, value))
    return toks


class _Parser:
    def __init__(self, toks: list[_Tok], catalog: Catalog, tz: ZoneInfo, now_ms: int) -> None:
        self.toks = toks
        self.i = 0
        self.catalog = catalog
        self.tz = tz
        self.now_ms = now_ms
        self.clauses = 0

    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def word_is(self, word: str, offset: int = 0) -> bool:
        t = self.peek(offset)
        return t is not None and t.kind == "word" and t.text.lower() == word

    def take(self) -> _Tok:
        t = self.peek()
        if t is None:
            raise JqlError("Error in the JQL Query: Expecting a value but reached the end of the query.")
        self.i += 1
        return t

    def expect_op(self, op: str) -> None:
        t = self.take()
        if t.kind != "op" or t.text != op:
            raise JqlError(f"Error in the JQL Query: Expecting '{op}' but got '{t.text}'.")

    def at_order_by(self) -> bool:
        return self.word_is("order") and self.word_is("by", 1)

    def parse(self) -> Query:
        pred: Predicate | None = None
        if self.peek() is not None and not self.at_order_by():
            pred = self.parse_or()
        order: list[SortKey] = []
        if self.at_order_by():
            self.i += 2
            while True:
                t = self.take()
                field = t.text.lower()
                if field not in _SORT_FIELDS:
                    raise JqlError(f"Not able to sort using field '{t.text}'.")
                desc = False
                if self.word_is("asc") or self.word_is("desc"):
                    desc = self.take().text.lower() == "desc"
                order.append(SortKey("key" if field == "issuekey" else field, desc))
                nxt = self.peek()
                if nxt is not None and nxt.kind == "op" and nxt.text == ",":
                    self.i += 1
                    continue
                break
        if self.peek() is not None:
            raise JqlError(
                f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{self.take().text}'."
            )
        return Query(pred, tuple(order), self.clauses > 0)

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while self.word_is("or"):
            self.i += 1
            right = self.parse_and()
            left = (lambda a, b: lambda x: a(x) or b(x))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_unary()
        while self.word_is("and"):
            self.i += 1
            right = self.parse_unary()
            left = (lambda a, b: lambda x: a(x) and b(x))(left, right)
        return left

    def parse_unary(self) -> Predicate:
        if self.word_is("not"):
            self.i += 1
            inner = self.parse_unary()
            return lambda x: not inner(x)
        t = self.peek()
        if t is not None and t.kind == "op" and t.text == "(":
            self.i += 1
            inner = self.parse_or()
            self.expect_op(")")
            return inner
        return self.parse_clause()

    def parse_values(self) -> list[str]:
        self.expect_op("(")
        values: list[str] = []
        while True:
            t = self.take()
            if t.kind == "op":
                if t.text == ")" and not values:
                    break
                raise JqlError(f"Error in the JQL Query: Expecting a value but got '{t.text}'.")
            values.append(t.text)
            sep = self.take()
            if sep.kind == "op" and sep.text == ",":
                continue
            if sep.kind == "op" and sep.text == ")":
                break
            raise JqlError(f"Error in the JQL Query: Expecting ',' or ')' but got '{sep.text}'.")
        return values

    def parse_clause(self) -> Predicate:
        ft = self.take()
        if ft.kind == "op":
            raise JqlError(f"Error in the JQL Query: Expecting a field name but got '{ft.text}'.")
        field = ft.text.lower()
        self.clauses += 1
        negate = False
        if self.word_is("not") and self.word_is("in", 1):
            self.i += 1
            negate = True
        if self.word_is("in"):
            self.i += 1
            values = self.parse_values()
            op = "in"
        else:
            opt = self.take()
            if opt.kind != "op" or opt.text not in ("=", "!=", ">", ">=", "<", "<="):
                raise JqlError(f"Error in the JQL Query: Expecting operator but got '{opt.text}'.")
            op = opt.text
            vt = self.take()
            value = vt.text
            if vt.kind == "word" and self.peek() is not None and self.peek().text == "(":  # type: ignore[union-attr]
                self.expect_op("(")
                self.expect_op(")")
                value = value + "()"
            values = [value]
        if field in _DATE_FIELDS:
            return self.date_clause(field, op, values, negate)
        pred = self.member_clause(field, ft.text, op, values)
        return (lambda p: lambda x: not p(x))(pred) if negate else pred

    def member_clause(self, field: str, raw_field: str, op: str, values: list[str]) -> Predicate:
        if op not in ("=", "!=", "in"):
            raise JqlError(f"The operator '{op}' is not supported by the '{raw_field}' field.")
        wanted = {v.lower() for v in values}
        pred: Predicate
        if field == "project":
            for v in values:
                if not self.catalog.has_project(v):
                    raise JqlError(f"The value '{v}' does not exist for the field 'project'.")

            def pred(x: IssueView) -> bool:
                return (
                    x.project_key.lower() in wanted
                    or x.project_id in wanted
                    or x.project_name.lower() in wanted
                )
        elif field in ("key", "issuekey", "id"):
            for v in values:
                if not self.catalog.has_issue_key(v):
                    raise JqlError(f"An issue with key '{v}' does not exist for field '{raw_field}'.")

            def pred(x: IssueView) -> bool:
                return x.key.lower() in wanted or str(x.id) in wanted
        elif field == "status":

            def pred(x: IssueView) -> bool:
                return x.status_name.lower() in wanted or x.status_id in wanted
        elif field == "statuscategory":

            def pred(x: IssueView) -> bool:
                cid, ckey, cname = x.status_category
                return str(cid) in wanted or ckey in wanted or cname.lower() in wanted
        elif field in ("issuetype", "type"):

            def pred(x: IssueView) -> bool:
                return x.type_name.lower() in wanted or x.type_id in wanted
        else:
            raise JqlError(
                f"Field '{raw_field}' does not exist or this field cannot be viewed by anonymous users."
            )
        if op == "!=":
            return (lambda p: lambda x: not p(x))(pred)
        return pred

    def parse_instant(self, value: str) -> int:
        v = value.strip()
        if v.lower() == "now()":
            return self.now_ms
        if re.fullmatch(r"\d{9,}", v):
            return int(v)
        m = _RELATIVE.match(v.replace(" ", ""))
        if m:
            sign = -1 if m.group(1) == "-" else 1
            return self.now_ms + sign * int(m.group(2)) * _UNIT_MS[m.group(3)]
        for fmt in _DATE_FORMATS:
            try:
                dt = datetime.strptime(v, fmt)
            except ValueError:
                continue
            return int(dt.replace(tzinfo=self.tz).timestamp() * 1000)
        raise JqlError(
            f"Date value '{value}' for field 'updated' is invalid. Valid formats include: "
            "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format "
            "e.g. '-5d', '4w 2d'."
        )

    def date_clause(self, field: str, op: str, values: list[str], negate: bool) -> Predicate:
        if op == "in":
            instants = {self.parse_instant(v) for v in values}
            if field.startswith("updated"):
                return lambda x: (x.updated_ms in instants) != negate
            return lambda x: (x.created_ms in instants) != negate
        t = self.parse_instant(values[0])
        get: Callable[[IssueView], int] = (
            (lambda x: x.updated_ms) if field.startswith("updated") else (lambda x: x.created_ms)
        )
        compare: dict[str, Callable[[int], bool]] = {
            "=": lambda v: v == t,
            "!=": lambda v: v != t,
            ">": lambda v: v > t,
            ">=": lambda v: v >= t,
            "<": lambda v: v < t,
            "<=": lambda v: v <= t,
        }
        cmp = compare[op]
        return lambda x: cmp(get(x))


def parse_jql(text: str, catalog: Catalog, tz: ZoneInfo, now_ms: int | None = None) -> Query:
    toks = _tokenize(text or "")
    parser = _Parser(toks, catalog, tz, int(time.time() * 1000) if now_ms is None else now_ms)
    return parser.parse()


def sort_issues(issues: Sequence[IssueView], query: Query) -> list[IssueView]:
    return sorted(issues, key=query.sort_key())
