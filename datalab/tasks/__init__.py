"""Analysis tasks: submitted through the API, run by an executor (in process or Celery workers)."""
