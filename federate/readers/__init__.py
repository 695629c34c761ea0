"""Format readers: each turns one exported file into Arrow record batches (see ``base``)."""

from federate.readers.base import ROW_COLUMN, Reader, Reject, Source
from federate.readers.csv import CsvReader

__all__ = ["ROW_COLUMN", "CsvReader", "Reader", "Reject", "Source"]
