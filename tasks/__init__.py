"""Celery tasks: thin steps over the libraries in workers/."""
