"""A tenant's mappings: work item types, hierarchy levels, statuses per type, and workflows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import Field, StringConstraints, field_validator

from quarry_backend.schemas.base import ApiModel, OutModel
from quarry_core.mappings import ANY_TYPE

StandardStatus = Literal["To Do", "In Progress", "Done"]
SourceValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
StandardType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
StepName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

RETRANSFORM_HINT = "POST /api/v1/mappings/retransform (or POST /api/v1/jobs/{name}/retransform)"


class TypeMappingIn(ApiModel):
    source_type: SourceValue = Field(description="The source's type name, matched case-insensitively.")
    standard_type: StandardType
    model_config = {
        **ApiModel.model_config,
        "json_schema_extra": {"examples": [{"sourceType": "User Story", "standardType": "STORY"}]},
    }


class TypeMappingOut(OutModel):
    id: int | None = Field(description="Absent for a value seen in the data that no mapping covers.")
    source_type: str
    standard_type: str
    mapped: bool
    rule: str = Field(description="`mapping`, or the default: `upper-case` (the source name upper-cased).")
    items: int = Field(description="Work items of this source type in the tenant's data.")


class HierarchyIn(ApiModel):
    standard_type: StandardType
    level: int = Field(ge=-10, le=10, description="-1 sub-task, 0 story level, 1 epic, higher above.")
    description: str | None = Field(default=None, max_length=2000)
    model_config = {
        **ApiModel.model_config,
        "json_schema_extra": {"examples": [{"standardType": "EPIC", "level": 1, "description": "Epics"}]},
    }


class HierarchyOut(OutModel):
    id: int | None
    standard_type: str
    level: int | None = Field(
        description="Unmapped: the level most items of the type have (from the source)."
    )
    description: str | None = None
    mapped: bool
    rule: str = Field(
        description="`mapping`, or the default `source` (Jira's hierarchyLevel; -1 sub-task, else 0)."
    )
    items: int


class StatusMappingIn(ApiModel):
    work_item_type: StandardType = Field(default=ANY_TYPE, description="A standard type, or `*` for any.")
    source_status: SourceValue
    standard_status: StandardStatus
    workflow_step: StepName | None = None
    model_config = {
        **ApiModel.model_config,
        "json_schema_extra": {
            "examples": [
                {
                    "workItemType": "STORY",
                    "sourceStatus": "In Review",
                    "standardStatus": "In Progress",
                    "workflowStep": "Review",
                }
            ]
        },
    }


class StatusMappingOut(OutModel):
    id: int | None
    work_item_type: str
    source_status: str
    standard_status: str | None
    workflow_step: str | None = None
    status_category: str | None = Field(default=None, description="Jira's status category, as seen.")
    mapped: bool
    rule: str = Field(
        description="`mapping`, or the default: `workflow` (a step of that name) or `category`."
    )
    items: int


class StepIn(ApiModel):
    name: StepName
    standard_status: StandardStatus
    commitment_point: bool = Field(default=False, description="Cycle time starts at the first move here.")
    delivery_point: bool = Field(default=False, description="Cycle and lead time end at the first move here.")


class WorkflowIn(ApiModel):
    name: StepName
    work_item_type: StandardType = Field(default=ANY_TYPE, description="A standard type, or `*` for any.")
    steps: list[StepIn] = Field(min_length=1, max_length=50, description="In order.")
    model_config = {
        **ApiModel.model_config,
        "json_schema_extra": {
            "examples": [
                {
                    "name": "delivery",
                    "workItemType": "*",
                    "steps": [
                        {"name": "Backlog", "standardStatus": "To Do"},
                        {"name": "In Progress", "standardStatus": "In Progress", "commitmentPoint": True},
                        {"name": "Review", "standardStatus": "In Progress"},
                        {"name": "Done", "standardStatus": "Done", "deliveryPoint": True},
                    ],
                }
            ]
        },
    }

    @field_validator("steps")
    @classmethod
    def _ordered_points(cls, steps: list[StepIn]) -> list[StepIn]:
        problems = workflow_problems(steps)
        if problems:
            raise ValueError("; ".join(problems))
        return steps


def workflow_problems(steps: list[StepIn]) -> list[str]:
    """What makes an ordered list of steps an invalid workflow (empty when it is valid)."""
    problems = []
    names = [s.name.casefold() for s in steps]
    duplicated = sorted({s.name for s in steps if names.count(s.name.casefold()) > 1})
    if duplicated:
        problems.append(f"step names must be unique ({', '.join(duplicated)})")
    commits = [i for i, s in enumerate(steps) if s.commitment_point]
    delivers = [i for i, s in enumerate(steps) if s.delivery_point]
    if len(commits) > 1:
        problems.append("at most one commitment point")
    if len(delivers) > 1:
        problems.append("at most one delivery point")
    if len(commits) == 1 and len(delivers) == 1 and commits[0] > delivers[0]:
        problems.append("the commitment point must not come after the delivery point")
    return problems


class StepOut(OutModel):
    position: int
    name: str
    standard_status: str
    commitment_point: bool
    delivery_point: bool


class WorkflowOut(OutModel):
    name: str
    work_item_type: str
    steps: list[StepOut]
    updated_at: datetime | None = None


T = TypeVar("T")


class MappingChange(OutModel, Generic[T]):
    """A mapping write: the mapping as it is now, and the jobs whose rows a re-transform would rewrite."""

    item: T
    affected_jobs: list[str] = Field(description="Jobs that extract work items: re-transform them to apply.")
    retransform: str = Field(default=RETRANSFORM_HINT, description="How to apply the change to stored data.")


class RetransformIn(ApiModel):
    jobs: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=100, description="Default: every affected job."
    )
    model_config = {
        **ApiModel.model_config,
        "json_schema_extra": {"examples": [{"jobs": ["acme-jira-sync"]}]},
    }


class RetransformOut(OutModel):
    jobs: list[str] = Field(description="Jobs asked to re-transform (their runs appear under /runs).")
    tokens: dict[str, str] = Field(description="The retransform token written to each job's spec.")
