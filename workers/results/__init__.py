"""Row-level results: what became of every source row of a load.

``rows`` (the file's columns and outcomes), ``reasons`` (counting failure and
warning reasons; shared with anything that summarizes a load), ``matching``
(Marketo's failure and warning rows back to the records of their chunk),
``inputs`` (reading what a load left in S3), ``build`` (the file, written at
finish), ``report`` (its summary in the report and the status) and ``retry``
(a load of exactly the rows that failed or were not sent).
"""
