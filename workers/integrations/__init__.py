"""Bridges to the schedulers that start loads, each an optional extra of the package.

A sub-package here is the only place that imports its scheduler (``airflow/``:
``pip install 'mkto-bulk[airflow]'``); nothing else under ``workers/`` imports
one, so the workers never need it installed.
"""
