"""`quarry apply`, `quarry get` and `quarry delete`: the resources as `kubectl` shows them, stored locally."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from quarry_cli.output import print_json, print_table

KINDS = {
    "integration": "Integration",
    "integrations": "Integration",
    "qint": "Integration",
    "integrations.quarry.dev": "Integration",
    "etljob": "EtlJob",
    "etljobs": "EtlJob",
    "ej": "EtlJob",
    "job": "EtlJob",
    "jobs": "EtlJob",
    "etljobs.quarry.dev": "EtlJob",
    "run": "Run",
    "runs": "Run",
    "secret": "Secret",
    "secrets": "Secret",
}


def add_namespace_flags(parser: argparse.ArgumentParser, all_namespaces: bool = False) -> None:
    parser.add_argument(
        "-n", "--namespace", default=None, help="namespace (tenant); default: the manifest's, else 'default'"
    )
    if all_namespaces:
        parser.add_argument("-A", "--all-namespaces", action="store_true", help="list across all namespaces")


def register(subparsers: Any) -> None:
    apply = subparsers.add_parser(
        "apply",
        help="create or update Secrets, Integrations and EtlJobs from YAML (as kubectl apply)",
        description="Apply the manifests of FILE (the YAML `kubectl apply -f` takes; '-' reads stdin). "
        "Every document is validated against the CRDs first; if any is invalid nothing changes and the "
        "error names the field. Secrets are stored encrypted; the namespace is the tenant.",
    )
    apply.add_argument(
        "-f", "--filename", action="append", required=True, metavar="FILE", help="manifest file"
    )
    add_namespace_flags(apply)
    apply.set_defaults(func=run_apply)

    get = subparsers.add_parser(
        "get",
        help="list integrations, jobs or runs",
        description="Show integrations, jobs (etljobs) or runs with kubectl-like columns, or as JSON.",
    )
    get.add_argument("kind", metavar="KIND", help="integrations | jobs | runs (singular, short names work)")
    get.add_argument("name", nargs="?", help="one object's name (for runs: the job's name)")
    add_namespace_flags(get, all_namespaces=True)
    get.add_argument("-o", "--output", choices=["table", "wide", "json"], default="table", help="output")
    get.set_defaults(func=run_get)

    delete = subparsers.add_parser(
        "delete",
        help="delete resources by file or by kind and name",
        description="`quarry delete -f FILE` deletes every object of the file; "
        "`quarry delete job NAME -n NS` one object. Deleting a job cancels its active run "
        "and removes its runs.",
    )
    delete.add_argument("kind", nargs="?", metavar="KIND", help="job | integration | secret")
    delete.add_argument("name", nargs="?", metavar="NAME")
    delete.add_argument("-f", "--filename", action="append", metavar="FILE", help="manifest file")
    add_namespace_flags(delete)
    delete.set_defaults(func=run_delete)


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as f:
        return f.read()


def _parse_files(paths: list[str], namespace: str | None) -> list[Any]:
    from quarry_core.manifests import ManifestError
    from quarry_core.store import parse

    manifests = []
    for path in paths:
        try:
            found = parse(_read(path), namespace or "default")
        except ManifestError as exc:
            raise ManifestError(f"error validating {path!r}: {exc}") from None
        for m in found:
            if namespace and m.metadata.namespace != namespace:
                raise ManifestError(
                    f"the namespace from the provided object {m.metadata.namespace!r} does not match "
                    f"the namespace {namespace!r}. You must pass '--namespace={m.metadata.namespace}' "
                    "to perform this operation."
                )
        manifests.extend(found)
    return manifests


def run_apply(args: argparse.Namespace) -> int:
    from quarry_core.db.engine import session_scope
    from quarry_core.manifests import ManifestError
    from quarry_core.settings import CoreSettings
    from quarry_core.store import apply_manifests, connect

    try:
        manifests = _parse_files(args.filename, args.namespace)
    except (ManifestError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    settings = CoreSettings()
    with session_scope(connect(settings)) as session:
        results = apply_manifests(session, settings, manifests)
    for r in results:
        print(r)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from quarry_core.db.engine import session_scope
    from quarry_core.manifests import ManifestError
    from quarry_core.settings import CoreSettings
    from quarry_core.store import NotFound, delete_manifests, delete_resource

    settings = CoreSettings()
    if args.filename:
        try:
            manifests = _parse_files(args.filename, args.namespace)
        except (ManifestError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        with session_scope(_sessions(settings)) as session:
            results = delete_manifests(session, manifests)
        failed = False
        for r in results:
            failed |= isinstance(r, str)
            print(r, file=sys.stderr if isinstance(r, str) else sys.stdout)
        return 1 if failed else 0
    kind = KINDS.get((args.kind or "").lower())
    if kind is None or kind == "Run" or not args.name:
        print("error: give -f FILE, or KIND NAME with KIND one of job, integration, secret", file=sys.stderr)
        return 1
    try:
        with session_scope(_sessions(settings)) as session:
            result = delete_resource(session, kind, args.namespace or "default", args.name)
    except NotFound as exc:
        print(f"Error from server (NotFound): {exc}", file=sys.stderr)
        return 1
    print(result)
    return 0


def _sessions(settings: Any) -> Any:
    from quarry_core.store import connect

    return connect(settings)


def age(since: datetime | None, now: datetime | None = None) -> str:
    """kubectl's short age: 45s, 12m, 3h, 5d."""
    if since is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - since).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def run_get(args: argparse.Namespace) -> int:
    from quarry_core.settings import CoreSettings
    from quarry_core.store import document, list_integrations, list_jobs, list_runs

    kind = KINDS.get(args.kind.lower())
    if kind is None or kind == "Secret":
        print(f'error: the server doesn\'t have a resource type "{args.kind}"', file=sys.stderr)
        return 1
    namespace = None if args.all_namespaces else (args.namespace or "default")
    with _sessions(CoreSettings())() as session:
        if kind == "Run":
            runs = list_runs(session, namespace, args.name)
            return _show_runs(args, runs, namespace is None, session)
        rows: list[Any] = (
            list_integrations(session, namespace) if kind == "Integration" else list_jobs(session, namespace)
        )
        if args.name:
            rows = [r for r in rows if r.name == args.name]
            if not rows:
                plural = "integrations" if kind == "Integration" else "etljobs"
                print(
                    f'Error from server (NotFound): {plural}.quarry.dev "{args.name}" not found',
                    file=sys.stderr,
                )
                return 1
        docs = [document(r) for r in rows]
    if args.output == "json":
        print_json(docs[0] if args.name else {"apiVersion": "v1", "kind": "List", "items": docs})
        return 0
    if not docs:
        where = "" if namespace is None else f" in {namespace} namespace"
        print(f"No resources found{where}.", file=sys.stderr)
        return 0
    show_ns = namespace is None
    if kind == "Integration":
        headers = ["NAME", "TYPE", "PHASE", "URL", "AGE"]
        table = [
            [
                d["metadata"]["name"],
                d["spec"]["type"],
                d["status"].get("phase", ""),
                d["spec"]["baseUrl"],
                age(_parse_time(d["metadata"]["creationTimestamp"])),
            ]
            for d in docs
        ]
        if args.output == "wide":
            headers.append("REASON")
            for d, row in zip(docs, table, strict=True):
                ready = [c for c in d["status"].get("conditions", []) if c["type"] == "Ready"]
                row.append(ready[0]["reason"] if ready else "")
    else:
        headers = ["NAME", "INTEGRATION", "PHASE", "PROGRESS", "LAST SUCCESS", "AGE"]
        table = []
        for d in docs:
            spec, status = d["spec"], d["status"]
            table.append(
                [
                    d["metadata"]["name"],
                    spec["integrationRef"]["name"],
                    status.get("phase", ""),
                    status.get("progress", ""),
                    age(_parse_time(status.get("lastSuccessfulTime"))),
                    age(_parse_time(d["metadata"]["creationTimestamp"])),
                ]
            )
        if args.output == "wide":
            headers += ["SCHEDULE", "SUSPEND", "RUN"]
            for d, row in zip(docs, table, strict=True):
                row += [
                    d["spec"].get("schedule", ""),
                    str(d["spec"].get("suspend", False)).lower(),
                    d["status"].get("currentRun", ""),
                ]
    if show_ns:
        headers.insert(0, "NAMESPACE")
        for d, row in zip(docs, table, strict=True):
            row.insert(0, d["metadata"]["namespace"])
    print_table(headers, table)
    return 0


def run_document(run: Any, job: str, per_entity: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {
        "run": run.id,
        "namespace": run.tenant,
        "job": job,
        "phase": run.phase,
        "trigger": run.trigger,
        "mode": run.mode,
        "attempt": run.attempt,
        "entities": run.entities,
        "counts": per_entity,
        "error": run.error,
        "waitingUntil": run.waiting_until.isoformat() if run.waiting_until else None,
        "createdAt": run.created_at.isoformat() if run.created_at else None,
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
    }


def _duration(run: Any) -> str:
    if run.started_at is None:
        return ""
    end = run.finished_at or datetime.now(UTC)
    seconds = int((end - run.started_at).total_seconds())
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _show_runs(args: argparse.Namespace, runs: list[Any], show_ns: bool, session: Any) -> int:
    from quarry_core.runs import counts

    if args.output == "json":
        items = [run_document(run, job, counts(session, run.id)) for run, job in runs]
        print_json({"apiVersion": "v1", "kind": "List", "items": items})
        return 0
    if not runs:
        print("No runs found.", file=sys.stderr)
        return 0
    headers = ["JOB", "RUN", "PHASE", "TRIGGER", "MODE", "ATTEMPT", "LOADED", "DURATION", "AGE"]
    table = []
    for run, job in runs:
        per_entity = counts(session, run.id)
        loaded = sum(c["loaded"] for c in per_entity.values())
        row = [
            job,
            run.id,
            run.phase,
            run.trigger,
            run.mode,
            run.attempt,
            loaded,
            _duration(run),
            age(run.created_at),
        ]
        if args.output == "wide":
            row.append((run.error or "")[:80])
        if show_ns:
            row.insert(0, run.tenant)
        table.append(row)
    if args.output == "wide":
        headers.append("ERROR")
    if show_ns:
        headers.insert(0, "NAMESPACE")
    print_table(headers, table)
    return 0
