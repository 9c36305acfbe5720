"""The legacy JSON shapes, which live in `datalab.legacy_json` so the FastAPI ports answer the same."""

from datalab.legacy_json import audit_json, data_source_json, integration_json, iso, page_json, user_json

__all__ = ["audit_json", "data_source_json", "integration_json", "iso", "page_json", "user_json"]
