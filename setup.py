"""Builds the optional C scanner (``workers._textscan``); everything else is in pyproject.toml.

``optional=True``: when no compiler is there the install still succeeds and
``workers.records`` uses its pure-Python scanners instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "workers._textscan",
            sources=["workers/_textscan.c"],
            depends=["workers/_textscan_loops.h"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
