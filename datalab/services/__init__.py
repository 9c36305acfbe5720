"""Domain services: plain functions over a Session that may flush but never commit."""
