"""Builds the optional C scanner (``workers.split._textscan``); the rest is in pyproject.toml.

``optional=True``: when no compiler is there the install still succeeds and
``workers.split.records`` uses its pure-Python scanners instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "workers.split._textscan",
            sources=["workers/split/_textscan.c"],
            depends=["workers/split/_textscan_loops.h"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
