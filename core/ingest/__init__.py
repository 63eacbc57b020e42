from core.ingest.service import ENTITIES, Failure, IngestResult, delete_records, ingest_records

__all__ = ["ENTITIES", "Failure", "IngestResult", "delete_records", "ingest_records"]
