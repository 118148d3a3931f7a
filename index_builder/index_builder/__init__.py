"""Builder of versioned parquet index releases for NCI Imaging Data Commons."""

__version__ = "0.1.0"

BUILDER_NAME = "index_builder"
