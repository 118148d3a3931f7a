"""Index releases: which release is in use, where its files are, fetching and caching them.

:mod:`~idc_index.releases.catalog` knows the release in use and each index file's place (the data
package, a release directory, the cache, a URL); :mod:`~idc_index.releases.published` lists and
opens the published releases; :mod:`~idc_index.releases.clinical` fetches a release's clinical
tables.
"""
