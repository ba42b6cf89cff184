"""A tenant's mappings (types, hierarchies, statuses, workflows) as one immutable value.

Transforms are pure functions of (raw page, mappings): the worker reads the mappings once per
batch and passes them in, so a mapping change followed by a re-transform is all it takes to
rewrite the tables.

Defaults for values nobody mapped, chosen to be visible and reversible (the source value is
always kept next to the mapped one, so a mapping can be added later and re-transformed):

- type: the source type name upper-cased ("Story" -> "STORY", "故事" -> "故事").
- hierarchy level: the tenant's level for the standard type, else Jira's own
  `issuetype.hierarchyLevel`, else -1 for sub-tasks and 0 for everything else.
- status: a status mapping for (standard type, status), else for ('*', status), else a workflow
  step of that name, else the Jira status category: new -> To Do, indeterminate -> In Progress,
  done -> Done (unknown category -> To Do).
- workflow step: the mapping's step, else the workflow step of that name, else the source
  status name itself.
- commitment / delivery points (cycle time): the tenant's workflow for the type (or '*'); without
  one, the first move into "In Progress" commits and the first move into "Done" delivers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from quarry_core.db.models import StatusMapping, WitHierarchy, WitMapping, Workflow, WorkflowStep
from quarry_core.tables import TABLES

TO_DO, IN_PROGRESS, DONE = "To Do", "In Progress", "Done"
STANDARD_STATUSES = (TO_DO, IN_PROGRESS, DONE)
ANY_TYPE = "*"
CATEGORY_DEFAULTS: Mapping[str, str] = MappingProxyType(
    {"new": TO_DO, "undefined": TO_DO, "indeterminate": IN_PROGRESS, "done": DONE}
)


def fold(value: str) -> str:
    return value.strip().casefold()


def type_key(work_item_type: str | None) -> str:
    return ANY_TYPE if not work_item_type or work_item_type == ANY_TYPE else fold(work_item_type)


@dataclass(frozen=True)
class StatusTarget:
    status: str
    step: str | None


@dataclass(frozen=True)
class Step:
    name: str
    position: int
    status: str
    commitment: bool
    delivery: bool


@dataclass(frozen=True)
class Flow:
    """One workflow: its steps in order."""

    name: str
    steps: tuple[Step, ...]

    def step(self, name: str | None) -> Step | None:
        if name is None:
            return None
        wanted = fold(name)
        return next((s for s in self.steps if fold(s.name) == wanted), None)

    @property
    def commitment(self) -> Step | None:
        return next((s for s in self.steps if s.commitment), None)

    @property
    def delivery(self) -> Step | None:
        return next((s for s in self.steps if s.delivery), None)


@dataclass(frozen=True)
class Mappings:
    types: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    levels: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    # (standard type or '*', casefolded source status) -> target
    statuses: Mapping[tuple[str, str], StatusTarget] = field(default_factory=lambda: MappingProxyType({}))
    # standard type or '*' -> workflow
    workflows: Mapping[str, Flow] = field(default_factory=lambda: MappingProxyType({}))

    def map_type(self, source_type: str | None) -> str | None:
        if source_type is None:
            return None
        return self.types.get(fold(source_type), source_type.strip().upper())

    def hierarchy_level(self, standard_type: str | None, source_level: int | None, subtask: bool) -> int:
        if standard_type is not None and fold(standard_type) in self.levels:
            return self.levels[fold(standard_type)]
        if source_level is not None:
            return source_level
        return -1 if subtask else 0

    def workflow(self, standard_type: str | None) -> Flow | None:
        if standard_type is not None and fold(standard_type) in self.workflows:
            return self.workflows[fold(standard_type)]
        return self.workflows.get(ANY_TYPE)

    def map_status(self, standard_type: str | None, status: str | None, category: str | None) -> str | None:
        """The standard status (To Do / In Progress / Done) of `status` for items of this type."""
        if status is None:
            return CATEGORY_DEFAULTS.get((category or "").lower()) if category else None
        target = self._target(standard_type, status)
        if target is not None:
            return target.status
        step = self._flow_step(standard_type, status)
        if step is not None:
            return step.status
        return CATEGORY_DEFAULTS.get((category or "").lower(), TO_DO)

    def status_rule(self, standard_type: str | None, status: str) -> str:
        """Which rule decides `status` for items of this type: a mapping, a workflow step or the category."""
        if self._target(standard_type, status) is not None:
            return "mapping"
        return "workflow" if self._flow_step(standard_type, status) is not None else "category"

    def workflow_step(self, standard_type: str | None, status: str | None) -> str | None:
        if status is None:
            return None
        target = self._target(standard_type, status)
        if target is not None and target.step:
            return target.step
        step = self._flow_step(standard_type, status)
        return step.name if step is not None else status

    def _target(self, standard_type: str | None, status: str) -> StatusTarget | None:
        if standard_type is not None:
            hit = self.statuses.get((fold(standard_type), fold(status)))
            if hit is not None:
                return hit
        return self.statuses.get((ANY_TYPE, fold(status)))

    def _flow_step(self, standard_type: str | None, status: str) -> Step | None:
        flow = self.workflow(standard_type)
        return flow.step(status) if flow is not None else None


# Mappings decide these tables' columns; a job that extracts what fills them has rows to re-map.
MAPPED_TABLES = ("work_items", "work_item_transitions")


def jobs_affected_by_mappings(jobs: Iterable[tuple[str, Iterable[str]]]) -> list[str]:
    """The names of the jobs (name, entities) whose rows a mapping change rewrites on re-transform."""
    entities = {TABLES[t].refreshed_by for t in MAPPED_TABLES} - {None}
    return sorted(name for name, extracted in jobs if entities & set(extracted))


def load_mappings(session: Session, tenant: str) -> Mappings:
    types = {
        fold(m.source_type): m.standard_type
        for m in session.scalars(select(WitMapping).where(WitMapping.tenant == tenant))
    }
    levels = {
        fold(h.standard_type): h.level
        for h in session.scalars(select(WitHierarchy).where(WitHierarchy.tenant == tenant))
    }
    statuses = {
        (type_key(s.work_item_type), fold(s.source_status)): StatusTarget(s.standard_status, s.workflow_step)
        for s in session.scalars(select(StatusMapping).where(StatusMapping.tenant == tenant))
    }
    flows: dict[str, Flow] = {}
    wf_rows = session.scalars(select(Workflow).where(Workflow.tenant == tenant).order_by(Workflow.id)).all()
    if wf_rows:
        steps = session.scalars(
            select(WorkflowStep)
            .where(WorkflowStep.workflow_id.in_([w.id for w in wf_rows]))
            .order_by(WorkflowStep.workflow_id, WorkflowStep.position)
        ).all()
        for wf in wf_rows:
            own = tuple(
                Step(s.name, s.position, s.standard_status, s.is_commitment_point, s.is_delivery_point)
                for s in steps
                if s.workflow_id == wf.id
            )
            flows.setdefault(type_key(wf.work_item_type), Flow(wf.name, own))
    return Mappings(
        types=MappingProxyType(types),
        levels=MappingProxyType(levels),
        statuses=MappingProxyType(statuses),
        workflows=MappingProxyType(flows),
    )
