"""The production server: uvicorn with several worker processes, logging through our formatter.

uvicorn's supervisor process never imports the app, so it would log in uvicorn's own
format; configuring logging here first (and telling uvicorn to leave it alone) makes
every line of the deployment one JSON object in production.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import uvicorn

from datalab.settings import Settings
from fastapi_app.edges.logs import configure_logging

APP = "fastapi_app.asgi:app"
WORKER_HEALTHCHECK_S = 30


def reset_metrics_folder(folder: Path | None) -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR, if set: files of a previous run would be summed in."""
    if folder is None:
        return
    # prometheus_client reads the variable itself, in every worker: hand it down as the environment.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    path = folder
    if path.exists():
        for entry in path.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    path.mkdir(parents=True, exist_ok=True)


def serve(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve `fastapi_app.asgi:app` with `workers` processes until stopped."""
    configure_logging(settings)
    reset_metrics_folder(settings.edges.prometheus_multiproc_dir)
    uvicorn.run(
        APP,
        host=host,
        port=port,
        workers=workers,
        # uvloop and httptools (uvicorn[standard]) where they are installed, asyncio and h11 elsewhere.
        loop="auto",
        http="auto",
        log_config=None,  # ours, configured above and again by each worker's app factory
        access_log=False,  # one access line per request comes from our middleware, with the route template
        proxy_headers=False,  # the client address is decided once, from TRUSTED_PROXIES
        server_header=False,
        timeout_graceful_shutdown=30,
        # uvicorn kills a worker that does not answer its ping within this many seconds, and
        # starts another: on a busy host the default 5 s killed every worker while it was still
        # importing the app, in a silent loop.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )
