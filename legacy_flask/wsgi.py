"""The WSGI entry point of the Flask app alone: `gunicorn -k gthread legacy_flask.wsgi:app`.

Production serves the combined ASGI app (`fastapi_app.asgi`); this one exists so the
benchmarks can price the mount against Flask served on its own.
"""

from datalab.settings import get_settings
from legacy_flask.app import create_app

app = create_app(get_settings())
