"""Errors of the ingest service: transient ones are retried, invalid input is dead-lettered."""


class IngestError(Exception):
    """Base of ingest errors."""


class TransientStoreError(IngestError):
    """The database could not take the batch right now (down, restarting, deadlock): retry it."""


class RejectedByStoreError(IngestError):
    """The database refused the batch's content: isolate the offending messages and dead-letter them."""
