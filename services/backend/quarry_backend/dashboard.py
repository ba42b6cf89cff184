"""The dashboard: the built single-page app (frontend/) served at /, beside the API under /api/v1.

The build lands in `static/` inside this package (see frontend/vite.config.ts), so an installed
Quarry serves it without Node. Any path that is not a file of the build gets index.html: the app
routes in the browser.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

STATIC = Path(__file__).parent / "static"

# Scripts, styles and connections only from this origin; the app has no inline script.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Quarry</title></head>
<body><main><h1>Quarry</h1><p>The dashboard is not built in this installation
(<code>bash scripts/frontend build</code> builds it).
The API is at <a href="/api/v1/docs">/api/v1/docs</a>.</p>
</main></body></html>"""


def mount_dashboard(app: FastAPI, directory: Path = STATIC) -> None:
    root = directory.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    def dashboard(path: str) -> Response:
        if path == "api" or path.startswith("api/"):
            raise HTTPException(404, "Not Found")
        candidate = (root / path).resolve()
        if path and candidate.is_file() and root in candidate.parents:
            # Vite names every asset by its content hash: a cached copy is never stale.
            cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else "no-cache"
            return FileResponse(candidate, headers={"cache-control": cache})
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT, headers={"content-security-policy": _CSP})
        headers = {"cache-control": "no-cache", "content-security-policy": _CSP}
        return FileResponse(index, media_type="text/html", headers=headers)
