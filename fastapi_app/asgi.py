"""The ASGI entry point for production servers: `uvicorn fastapi_app.asgi:app`."""

from fastapi_app.main import create_app

app = create_app()
