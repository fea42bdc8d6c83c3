"""The record service: the one gate for record reads and writes."""

from dealcraft.records.service import BulkResult, ImportRejected, Page, RecordService, RowError

__all__ = ["BulkResult", "ImportRejected", "Page", "RecordService", "RowError"]
