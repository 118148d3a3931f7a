"""Queries: SQL over the registered indices, and what is read from their rows.

:mod:`~idc_index.query.index_tables` registers each index of the release with the core's engine
and runs queries over them, replacing a damaged index file (found by
:mod:`~idc_index.query.damage`),
:mod:`~idc_index.query.user_tables` a user's own tables; :mod:`~idc_index.query.result` hands
rows to pyarrow, pandas or polars; :mod:`~idc_index.query.lookup` runs the client's own SQL and
checks identifiers (naming the closest ones), :mod:`~idc_index.query.sql` quotes what goes into
it; :mod:`~idc_index.query.citations` and :mod:`~idc_index.query.dicomweb` answer from the rows,
and :mod:`~idc_index.query.changes` writes the query of what changed between two IDC releases.
"""
