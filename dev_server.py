"""Run Datalab for development: migrate the database (SQLite in var/ by default), then serve.

uv run dev_server.py [--host 127.0.0.1] [--port 8000] [--reload]
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from datalab import migrate
from datalab.settings import Settings, get_settings
from datalab.settings_env import SettingsProblems, environment, startup_warnings

SETTINGS_EXIT = 2


def read_settings() -> Settings:
    """Return the settings, or print each problem on one line and exit 2 (before any banner)."""
    try:
        return get_settings()
    except SettingsProblems as problems:
        for line in problems.lines:
            print(f"dev_server: setting {line}", file=sys.stderr)
        sys.exit(SETTINGS_EXIT)


def main() -> None:
    """Migrate the configured database and serve the whole app with uvicorn."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--reload", action="store_true", help="restart when the code changes")
    args = parser.parse_args()

    settings = read_settings()
    for line in startup_warnings(environment()):
        print(f"dev_server: warning: {line}", file=sys.stderr)
    migrate.upgrade(settings)
    # Made now, so the folder file sources live in is there to put files in.
    settings.source_data_dir.mkdir(parents=True, exist_ok=True)
    base = f"http://{args.host}:{args.port}"
    print(f"Datalab ({settings.env}) on {settings.database.database_url.split('@')[-1]}")
    print(f"  legacy API   {base}/api        (health: {base}/api/health)")
    print(f"  v1 API docs  {base}/docs       (health: {base}/api/v1/health)")
    print(f"  data folder  {settings.source_data_dir}  (sqlite, csv and json sources: paths relative to it)")
    print("  first admin: uv run datalab create-user --email you@example.com --role admin")
    uvicorn.run(
        "fastapi_app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        reload=args.reload,
        loop="auto",  # uvloop and httptools (uvicorn[standard]) where installed
        http="auto",
    )


if __name__ == "__main__":
    main()
