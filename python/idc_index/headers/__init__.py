"""Instance metadata read from the DICOM headers of files in the buckets, without downloading
the files: the attributes asked for (:mod:`~idc_index.headers.attributes`), the first bytes of
each object read with growing Range requests until its header ends (:mod:`~idc_index.headers.reader`),
and a cache of what was read, by object (:mod:`~idc_index.headers.cache`).
:meth:`idc_index.IDCClient.get_instance_metadata` puts them together.
"""
