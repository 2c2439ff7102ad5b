"""The whole system on one machine, for a first look: ``make demo`` (``python -m infra.demo``)."""
