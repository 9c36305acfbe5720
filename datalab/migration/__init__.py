"""Moving legacy routes from Flask to FastAPI: the route registry, counts, shadow diffs and the report."""
