"""Pure transforms: one raw page (+ params, mappings) -> rows per final table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quarry_workers.mappings import Mappings
from quarry_workers.transform.common import Records, TransformOptions


def transform_page(
    source: str,
    entity: str,
    response: Any,
    params: Mapping[str, Any],
    mappings: Mappings,
    options: TransformOptions | None = None,
) -> Records:
    """Dispatch on the integration type; unknown entities produce no rows (kept raw only)."""
    opts = options or TransformOptions()
    if source == "jira":
        from quarry_workers.transform import jira

        return jira.transform(entity, response, params, mappings, opts)
    if source == "github":
        from quarry_workers.transform import github

        return github.transform(entity, response, params, opts)
    return {}


__all__ = ["Records", "TransformOptions", "transform_page"]
