"""Pure transforms: one raw page (+ params, mappings) -> rows per final table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from quarry_core.mappings import Mappings
from quarry_workers.transform.common import Records, TransformOptions


def _jira(
    entity: str, response: Any, params: Mapping[str, Any], mappings: Mappings, opts: TransformOptions
) -> Records:
    from quarry_workers.transform import jira

    return jira.transform(entity, response, params, mappings, opts)


def _github(
    entity: str, response: Any, params: Mapping[str, Any], mappings: Mappings, opts: TransformOptions
) -> Records:
    from quarry_workers.transform import github

    return github.transform(entity, response, params, opts)


# One transform per source type of the core's registry (a test checks they agree).
TRANSFORMS: Mapping[str, Callable[[str, Any, Mapping[str, Any], Mappings, TransformOptions], Records]] = {
    "jira": _jira,
    "github": _github,
}


def transform_page(
    source: str,
    entity: str,
    response: Any,
    params: Mapping[str, Any],
    mappings: Mappings,
    options: TransformOptions | None = None,
) -> Records:
    """Dispatch on the integration type; unknown entities produce no rows (kept raw only)."""
    transform = TRANSFORMS.get(source)
    if transform is None:
        return {}
    return transform(entity, response, params, mappings, options or TransformOptions())


__all__ = ["TRANSFORMS", "Records", "TransformOptions", "transform_page"]
