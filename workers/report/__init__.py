"""The visual load report, ``report.html``: a timeline of the load's jobs and Marketo's
import slots, its chunks, top failure reasons, rates and API calls, in one file.

``timeline`` (spans, lanes, rates from the ledger's records), ``reasons`` (failure
files counted with bounded reads), ``svg`` and ``html`` (the page, from
``template.html``), ``write`` (to S3 and back).
"""
