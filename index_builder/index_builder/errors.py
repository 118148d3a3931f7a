"""One exception hierarchy; every message says what was wrong and what to do."""


class BuilderError(Exception):
    """Base class of every error the builder raises on purpose."""


class SqlFileError(BuilderError):
    """A query file is malformed (missing column docs, unknown template block...)."""


class SourceError(BuilderError):
    """The source tables (BigQuery datasets or the offline parquet directory) are unusable."""


class CostLimitError(BuilderError):
    """The dry run says the queries would scan more than --max-bytes-billed."""


class SchemaError(BuilderError):
    """A query result does not match the schema declared for its index."""


class QualityGateError(BuilderError):
    """A built index fails a quality gate; nothing is published."""


class SchemaChangeError(QualityGateError):
    """An index's schema differs from the previous release and the change was not declared."""


class CollectionRemovedError(QualityGateError):
    """A collection of the previous release is gone and was not declared withdrawn."""


class ReleaseError(BuilderError):
    """A release directory is incomplete or does not verify against its manifest."""
