"""Production edges around both halves: logs, client address, headers, CORS, hosts, limits, health, metrics.

Each concern is a small pure ASGI middleware or router here; `fastapi_app.main` puts them
in order around the request-context and body-limit middleware it already has.
"""
