"""A local stand-in for one Adobe Marketo Engage instance (identity, bulk import, describe).

It shares no code with the workers on purpose: it models Marketo, not our client.
Run it with ``python -m infra.sandbox --help``.
"""
