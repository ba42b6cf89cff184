"""Where the recorded devlake responses are: ``shared/fixtures/devlake`` beside the repository root
(CI has it there); tests that need them skip when it is absent."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEVLAKE_DIR = REPO_ROOT.parent / "shared" / "fixtures" / "devlake"
