"""The tenant's mappings: CRUD, the default that applies to each unmapped value seen in the data,
and the re-transform that applies a change to the stored raw pages."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from quarry_backend.deps import CurrentUser, ReadSessionDep, SessionDep, allow
from quarry_backend.errors import CONFLICT, READ, READ_ONE, WRITE, WRITE_ONE
from quarry_backend.routes.integrations import backend
from quarry_backend.schemas.mappings import (
    HierarchyIn,
    HierarchyOut,
    MappingChange,
    RetransformIn,
    RetransformOut,
    StatusMappingIn,
    StatusMappingOut,
    StepOut,
    TypeMappingIn,
    TypeMappingOut,
    WorkflowIn,
    WorkflowOut,
)
from quarry_core import store
from quarry_core.db.models import (
    StatusMapping,
    WitHierarchy,
    WitMapping,
    Workflow,
    WorkflowStep,
    WorkItem,
    WorkItemTransition,
)
from quarry_core.mappings import fold, jobs_affected_by_mappings, load_mappings, type_key

router = APIRouter(prefix="/mappings", tags=["mappings"])

T = TypeVar("T")
Row = TypeVar("Row", WitMapping, WitHierarchy, StatusMapping, Workflow)


def affected_jobs(session: Session, tenant: str) -> list[str]:
    return jobs_affected_by_mappings(
        (j.name, j.spec.get("entities") or []) for j in store.list_jobs(session, tenant)
    )


def _changed(session: Session, tenant: str, item: T) -> MappingChange[T]:
    return MappingChange[T](item=item, affected_jobs=affected_jobs(session, tenant))


def _commit(session: Session, what: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(409, f"{what} exists already") from None


def _removed(session: Session, tenant: str, row: Any, item: T) -> MappingChange[T]:
    session.delete(row)
    session.commit()
    return _changed(session, tenant, item)


def _one(session: Session, model: type[Row], tenant: str, row_id: int, what: str) -> Row:
    row = session.scalar(select(model).where(model.id == row_id, model.tenant == tenant))
    if row is None:
        raise HTTPException(404, f"{what} {row_id} not found")
    return row


# --- work item types -------------------------------------------------------------------------


def _type_out(row: WitMapping, items: int) -> TypeMappingOut:
    return TypeMappingOut(
        id=row.id,
        source_type=row.source_type,
        standard_type=row.standard_type,
        mapped=True,
        rule="mapping",
        items=items,
    )


def _type_counts(session: Session, tenant: str) -> Counter[str]:
    seen = session.execute(
        select(WorkItem.source_type, func.count())
        .where(WorkItem.tenant == tenant, WorkItem.source_type.is_not(None))
        .group_by(WorkItem.source_type)
    ).all()
    return Counter({str(value): int(n) for value, n in seen})


@router.get("/types", response_model=list[TypeMappingOut], responses=READ, summary="Work item type mappings")
def list_types(session: ReadSessionDep, principal: CurrentUser) -> list[TypeMappingOut]:
    """Every mapping, then every source type seen in the data that no mapping covers, with its default."""
    rows = session.scalars(
        select(WitMapping).where(WitMapping.tenant == principal.tenant).order_by(WitMapping.source_type)
    ).all()
    counts = _type_counts(session, principal.tenant)
    folded: Counter[str] = Counter()
    for value, n in counts.items():
        folded[fold(value)] += n
    out = [_type_out(r, folded[fold(r.source_type)]) for r in rows]
    mapped = {fold(r.source_type) for r in rows}
    defaults = load_mappings(session, principal.tenant)
    for value in sorted(counts):
        if fold(value) not in mapped:
            standard = defaults.map_type(value) or value
            out.append(
                TypeMappingOut(
                    id=None,
                    source_type=value,
                    standard_type=standard,
                    mapped=False,
                    rule="upper-case",
                    items=counts[value],
                )
            )
    return out


def _type_write(
    session: Session, tenant: str, body: TypeMappingIn, row: WitMapping | None
) -> MappingChange[TypeMappingOut]:
    clash = session.scalar(
        select(WitMapping.id).where(
            WitMapping.tenant == tenant, func.lower(WitMapping.source_type) == body.source_type.lower()
        )
    )
    if clash is not None and (row is None or clash != row.id):
        raise HTTPException(409, f"source type {body.source_type} is mapped already (mapping {clash})")
    row = row or WitMapping(tenant=tenant)
    row.source_type, row.standard_type = body.source_type, body.standard_type
    session.add(row)
    _commit(session, f"a mapping for source type {body.source_type}")
    items = _type_counts(session, tenant)
    return _changed(
        session, tenant, _type_out(row, sum(n for v, n in items.items() if fold(v) == fold(row.source_type)))
    )


@router.post(
    "/types",
    response_model=MappingChange[TypeMappingOut],
    status_code=201,
    responses={**WRITE, **CONFLICT},
    summary="Map a source work item type",
    **allow("editor"),
)
def create_type(
    body: TypeMappingIn, session: SessionDep, principal: CurrentUser
) -> MappingChange[TypeMappingOut]:
    return _type_write(session, principal.tenant, body, None)


@router.put(
    "/types/{type_mapping_id}",
    response_model=MappingChange[TypeMappingOut],
    responses={**WRITE_ONE, **CONFLICT},
    summary="Change a work item type mapping",
    **allow("editor"),
)
def update_type(
    type_mapping_id: int, body: TypeMappingIn, session: SessionDep, principal: CurrentUser
) -> MappingChange[TypeMappingOut]:
    row = _one(session, WitMapping, principal.tenant, type_mapping_id, "type mapping")
    return _type_write(session, principal.tenant, body, row)


@router.delete(
    "/types/{type_mapping_id}",
    response_model=MappingChange[TypeMappingOut],
    responses=WRITE_ONE,
    summary="Remove a work item type mapping (the default applies again)",
    **allow("editor"),
)
def delete_type(
    type_mapping_id: int, session: SessionDep, principal: CurrentUser
) -> MappingChange[TypeMappingOut]:
    row = _one(session, WitMapping, principal.tenant, type_mapping_id, "type mapping")
    return _removed(session, principal.tenant, row, _type_out(row, 0))


# --- hierarchy levels ------------------------------------------------------------------------


def _hierarchy_out(row: WitHierarchy, items: int) -> HierarchyOut:
    return HierarchyOut(
        id=row.id,
        standard_type=row.standard_type,
        level=row.level,
        description=row.description,
        mapped=True,
        rule="mapping",
        items=items,
    )


@router.get(
    "/hierarchies",
    response_model=list[HierarchyOut],
    responses=READ,
    summary="Hierarchy levels of standard types",
)
def list_hierarchies(session: ReadSessionDep, principal: CurrentUser) -> list[HierarchyOut]:
    rows = session.scalars(
        select(WitHierarchy)
        .where(WitHierarchy.tenant == principal.tenant)
        .order_by(WitHierarchy.level.desc())
    ).all()
    levels: dict[str, Counter[int | None]] = defaultdict(Counter)
    names: dict[str, str] = {}
    for standard, level, n in session.execute(
        select(WorkItem.type, WorkItem.hierarchy_level, func.count())
        .where(WorkItem.tenant == principal.tenant, WorkItem.type.is_not(None))
        .group_by(WorkItem.type, WorkItem.hierarchy_level)
    ):
        levels[fold(str(standard))][level] += n
        names.setdefault(fold(str(standard)), str(standard))
    out = [_hierarchy_out(r, levels[fold(r.standard_type)].total()) for r in rows]
    mapped = {fold(r.standard_type) for r in rows}
    for key in sorted(set(levels) - mapped):
        seen = levels[key]
        out.append(
            HierarchyOut(
                id=None,
                standard_type=names[key],
                level=seen.most_common(1)[0][0],
                mapped=False,
                rule="source",
                items=seen.total(),
            )
        )
    return out


def _hierarchy_write(
    session: Session, tenant: str, body: HierarchyIn, row: WitHierarchy | None
) -> MappingChange[HierarchyOut]:
    clash = session.scalar(
        select(WitHierarchy.id).where(
            WitHierarchy.tenant == tenant,
            func.lower(WitHierarchy.standard_type) == body.standard_type.lower(),
        )
    )
    if clash is not None and (row is None or clash != row.id):
        raise HTTPException(409, f"type {body.standard_type} has a level already (hierarchy {clash})")
    row = row or WitHierarchy(tenant=tenant)
    row.standard_type, row.level, row.description = body.standard_type, body.level, body.description
    session.add(row)
    _commit(session, f"a level for type {body.standard_type}")
    items = session.scalar(
        select(func.count()).where(
            WorkItem.tenant == tenant, func.lower(WorkItem.type) == row.standard_type.lower()
        )
    )
    return _changed(session, tenant, _hierarchy_out(row, items or 0))


@router.post(
    "/hierarchies",
    response_model=MappingChange[HierarchyOut],
    status_code=201,
    responses={**WRITE, **CONFLICT},
    summary="Set the hierarchy level of a standard type",
    **allow("editor"),
)
def create_hierarchy(
    body: HierarchyIn, session: SessionDep, principal: CurrentUser
) -> MappingChange[HierarchyOut]:
    return _hierarchy_write(session, principal.tenant, body, None)


@router.put(
    "/hierarchies/{hierarchy_id}",
    response_model=MappingChange[HierarchyOut],
    responses={**WRITE_ONE, **CONFLICT},
    summary="Change a hierarchy level",
    **allow("editor"),
)
def update_hierarchy(
    hierarchy_id: int, body: HierarchyIn, session: SessionDep, principal: CurrentUser
) -> MappingChange[HierarchyOut]:
    row = _one(session, WitHierarchy, principal.tenant, hierarchy_id, "hierarchy")
    return _hierarchy_write(session, principal.tenant, body, row)


@router.delete(
    "/hierarchies/{hierarchy_id}",
    response_model=MappingChange[HierarchyOut],
    responses=WRITE_ONE,
    summary="Remove a hierarchy level (the source's level applies again)",
    **allow("editor"),
)
def delete_hierarchy(
    hierarchy_id: int, session: SessionDep, principal: CurrentUser
) -> MappingChange[HierarchyOut]:
    row = _one(session, WitHierarchy, principal.tenant, hierarchy_id, "hierarchy")
    return _removed(session, principal.tenant, row, _hierarchy_out(row, 0))


# --- statuses per work item type -------------------------------------------------------------


def _status_out(row: StatusMapping, items: int) -> StatusMappingOut:
    return StatusMappingOut(
        id=row.id,
        work_item_type=row.work_item_type,
        source_status=row.source_status,
        standard_status=row.standard_status,
        workflow_step=row.workflow_step,
        mapped=True,
        rule="mapping",
        items=items,
    )


def _status_counts(session: Session, tenant: str) -> list[Any]:
    """(standard type, source status, category, items) for every status seen: the items' current
    statuses, then statuses met only in their histories (a step items pass through), with 0 items."""
    seen = list(
        session.execute(
            select(WorkItem.type, WorkItem.source_status, WorkItem.status_category, func.count())
            .where(WorkItem.tenant == tenant, WorkItem.source_status.is_not(None))
            .group_by(WorkItem.type, WorkItem.source_status, WorkItem.status_category)
            .order_by(WorkItem.type, WorkItem.source_status)
        ).all()
    )
    known = {(type_key(t), fold(str(s))) for t, s, _, _ in seen}
    T = WorkItemTransition
    item = and_(
        WorkItem.tenant == T.tenant,
        WorkItem.integration_id == T.integration_id,
        WorkItem.source_id == T.work_item_source_id,
    )
    passed: list[tuple[str | None, str, str | None, int]] = []
    for status, category in (
        (T.to_source_status, T.to_status_category),
        (T.from_source_status, T.from_status_category),
    ):
        rows = session.execute(
            select(WorkItem.type, status, category)
            .join(WorkItem, item)
            .where(T.tenant == tenant, status.is_not(None))
            .distinct()
        )
        for standard, value, cat in rows:
            key = (type_key(standard), fold(str(value)))
            if key not in known:
                known.add(key)
                passed.append((standard, str(value), cat, 0))
    return seen + sorted(passed, key=lambda r: (r[0] is None, r[0] or "", fold(r[1])))


def _covers(row: StatusMapping, standard_type: str | None, status: str) -> bool:
    return fold(row.source_status) == fold(status) and type_key(row.work_item_type) in (
        "*",
        type_key(standard_type),
    )


@router.get(
    "/statuses",
    response_model=list[StatusMappingOut],
    responses=READ,
    summary="Status mappings per work item type",
)
def list_statuses(
    session: ReadSessionDep,
    principal: CurrentUser,
    work_item_type: Annotated[
        str | None,
        Query(alias="workItemType", max_length=64, description="Only this standard type (or `*`)."),
    ] = None,
) -> list[StatusMappingOut]:
    """Every mapping, then every (type, status) seen in the data that no mapping covers, with the
    default that applies to it: a workflow step of that name, else the Jira status category."""
    query = select(StatusMapping).where(StatusMapping.tenant == principal.tenant)
    if work_item_type is not None:
        query = query.where(func.lower(StatusMapping.work_item_type) == work_item_type.lower())
    rows = session.scalars(query.order_by(StatusMapping.work_item_type, StatusMapping.source_status)).all()
    seen = _status_counts(session, principal.tenant)
    out = [
        _status_out(r, sum(n for t, s, _, n in seen if _covers(r, t, s) and _covers_first(rows, r, t, s)))
        for r in rows
    ]
    mappings = load_mappings(session, principal.tenant)
    for standard, status, category, n in seen:
        if work_item_type is not None and type_key(standard) != type_key(work_item_type):
            continue
        if mappings.status_rule(standard, status) == "mapping":
            continue
        out.append(
            StatusMappingOut(
                id=None,
                work_item_type=standard or "*",
                source_status=status,
                standard_status=mappings.map_status(standard, status, category),
                workflow_step=mappings.workflow_step(standard, status),
                status_category=category,
                mapped=False,
                rule=mappings.status_rule(standard, status),
                items=n,
            )
        )
    return out


def _covers_first(rows: Any, row: StatusMapping, standard_type: str | None, status: str) -> bool:
    """A type's own mapping wins over the '*' one: count an item only under the mapping that applies."""
    if row.work_item_type != "*":
        return True
    return not any(
        r is not row and r.work_item_type != "*" and _covers(r, standard_type, status) for r in rows
    )


def _status_write(
    session: Session, tenant: str, body: StatusMappingIn, row: StatusMapping | None
) -> MappingChange[StatusMappingOut]:
    clash = session.scalar(
        select(StatusMapping.id).where(
            StatusMapping.tenant == tenant,
            func.lower(StatusMapping.work_item_type) == body.work_item_type.lower(),
            func.lower(StatusMapping.source_status) == body.source_status.lower(),
        )
    )
    if clash is not None and (row is None or clash != row.id):
        raise HTTPException(
            409,
            f"status {body.source_status} of type {body.work_item_type} is mapped already (mapping {clash})",
        )
    row = row or StatusMapping(tenant=tenant)
    row.work_item_type, row.source_status = body.work_item_type, body.source_status
    row.standard_status, row.workflow_step = body.standard_status, body.workflow_step
    session.add(row)
    _commit(session, f"a mapping for status {body.source_status}")
    items = sum(n for t, s, _, n in _status_counts(session, tenant) if _covers(row, t, s))
    return _changed(session, tenant, _status_out(row, items))


@router.post(
    "/statuses",
    response_model=MappingChange[StatusMappingOut],
    status_code=201,
    responses={**WRITE, **CONFLICT},
    summary="Map a source status (for one standard type, or `*`)",
    **allow("editor"),
)
def create_status(
    body: StatusMappingIn, session: SessionDep, principal: CurrentUser
) -> MappingChange[StatusMappingOut]:
    return _status_write(session, principal.tenant, body, None)


@router.put(
    "/statuses/{status_mapping_id}",
    response_model=MappingChange[StatusMappingOut],
    responses={**WRITE_ONE, **CONFLICT},
    summary="Change a status mapping",
    **allow("editor"),
)
def update_status(
    status_mapping_id: int, body: StatusMappingIn, session: SessionDep, principal: CurrentUser
) -> MappingChange[StatusMappingOut]:
    row = _one(session, StatusMapping, principal.tenant, status_mapping_id, "status mapping")
    return _status_write(session, principal.tenant, body, row)


@router.delete(
    "/statuses/{status_mapping_id}",
    response_model=MappingChange[StatusMappingOut],
    responses=WRITE_ONE,
    summary="Remove a status mapping (the default applies again)",
    **allow("editor"),
)
def delete_status(
    status_mapping_id: int, session: SessionDep, principal: CurrentUser
) -> MappingChange[StatusMappingOut]:
    row = _one(session, StatusMapping, principal.tenant, status_mapping_id, "status mapping")
    return _removed(session, principal.tenant, row, _status_out(row, 0))


# --- workflows -------------------------------------------------------------------------------


def _workflow_out(session: Session, row: Workflow) -> WorkflowOut:
    steps = session.scalars(
        select(WorkflowStep).where(WorkflowStep.workflow_id == row.id).order_by(WorkflowStep.position)
    ).all()
    return WorkflowOut(
        name=row.name,
        work_item_type=row.work_item_type,
        updated_at=row.updated_at,
        steps=[
            StepOut(
                position=s.position,
                name=s.name,
                standard_status=s.standard_status,
                commitment_point=s.is_commitment_point,
                delivery_point=s.is_delivery_point,
            )
            for s in steps
        ],
    )


def _workflow(session: Session, tenant: str, name: str) -> Workflow:
    row = session.scalar(select(Workflow).where(Workflow.tenant == tenant, Workflow.name == name))
    if row is None:
        raise HTTPException(404, f"workflow {name} not found")
    return row


@router.get("/workflows", response_model=list[WorkflowOut], responses=READ, summary="Workflows")
def list_workflows(session: ReadSessionDep, principal: CurrentUser) -> list[WorkflowOut]:
    rows = session.scalars(
        select(Workflow).where(Workflow.tenant == principal.tenant).order_by(Workflow.name)
    ).all()
    return [_workflow_out(session, r) for r in rows]


@router.get(
    "/workflows/{workflow_name}", response_model=WorkflowOut, responses=READ_ONE, summary="One workflow"
)
def get_workflow(workflow_name: str, session: ReadSessionDep, principal: CurrentUser) -> WorkflowOut:
    return _workflow_out(session, _workflow(session, principal.tenant, workflow_name))


def _workflow_write(
    session: Session, tenant: str, body: WorkflowIn, row: Workflow | None
) -> MappingChange[WorkflowOut]:
    # Only one workflow can apply to a type, so a second one for it would silently never apply.
    for other in session.scalars(select(Workflow).where(Workflow.tenant == tenant)):
        if other is row:
            continue
        if other.name == body.name:
            raise HTTPException(409, f"workflow {body.name} exists already")
        if type_key(other.work_item_type) == type_key(body.work_item_type):
            raise HTTPException(409, f"workflow {other.name} applies to type {body.work_item_type} already")
    if row is None:
        row = Workflow(tenant=tenant)
        session.add(row)
    row.name, row.work_item_type = body.name, body.work_item_type
    session.flush()
    session.execute(delete(WorkflowStep).where(WorkflowStep.workflow_id == row.id))
    session.add_all(
        WorkflowStep(
            tenant=tenant,
            workflow_id=row.id,
            position=position,
            name=step.name,
            standard_status=step.standard_status,
            is_commitment_point=step.commitment_point,
            is_delivery_point=step.delivery_point,
        )
        for position, step in enumerate(body.steps)
    )
    _commit(session, f"workflow {body.name}")
    return _changed(session, tenant, _workflow_out(session, row))


@router.post(
    "/workflows",
    response_model=MappingChange[WorkflowOut],
    status_code=201,
    responses={**WRITE, **CONFLICT},
    summary="Create a workflow: ordered steps with commitment and delivery points",
    **allow("editor"),
)
def create_workflow(
    body: WorkflowIn, session: SessionDep, principal: CurrentUser
) -> MappingChange[WorkflowOut]:
    return _workflow_write(session, principal.tenant, body, None)


@router.put(
    "/workflows/{workflow_name}",
    response_model=MappingChange[WorkflowOut],
    responses={**WRITE_ONE, **CONFLICT},
    summary="Replace a workflow (its name may change)",
    **allow("editor"),
)
def update_workflow(
    workflow_name: str, body: WorkflowIn, session: SessionDep, principal: CurrentUser
) -> MappingChange[WorkflowOut]:
    row = _workflow(session, principal.tenant, workflow_name)
    return _workflow_write(session, principal.tenant, body, row)


@router.delete(
    "/workflows/{workflow_name}",
    response_model=MappingChange[WorkflowOut],
    responses=WRITE_ONE,
    summary="Delete a workflow",
    **allow("editor"),
)
def delete_workflow(
    workflow_name: str, session: SessionDep, principal: CurrentUser
) -> MappingChange[WorkflowOut]:
    row = _workflow(session, principal.tenant, workflow_name)
    return _removed(session, principal.tenant, row, _workflow_out(session, row))


# --- applying a change -----------------------------------------------------------------------


@router.post(
    "/retransform",
    response_model=RetransformOut,
    status_code=202,
    responses=WRITE,
    summary="Re-transform the affected jobs' stored raw pages through the current mappings",
    **allow("editor"),
)
def retransform(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    body: RetransformIn,
) -> RetransformOut:
    names = affected_jobs(session, principal.tenant)
    if body.jobs is not None:
        existing = {j.name for j in store.list_jobs(session, principal.tenant)}
        for index, name in enumerate(body.jobs):
            if name not in existing:
                raise RequestValidationError(
                    [{"loc": ("body", "jobs", index), "msg": f"job {name} not found", "type": "value_error"}]
                )
        names = sorted(set(body.jobs))
    tokens = {}
    for name in names:
        tokens[name] = store.new_token()
        backend(request).patch_job(session, principal.tenant, name, {"retransform": tokens[name]})
    session.commit()
    return RetransformOut(jobs=names, tokens=tokens)
