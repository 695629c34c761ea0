"""Format readers: each turns one exported file into Arrow record batches (see ``base``)."""

from federate.readers.base import ROW_COLUMN, Reader, Reject, Source
from federate.readers.csv import CsvReader
from federate.readers.excel import ExcelReader
from federate.readers.odm import OdmReader
from federate.readers.redcap import RedcapReader
from federate.readers.sdtm import SdtmReader
from federate.readers.spss import SpssReader

__all__ = [
    "ROW_COLUMN",
    "CsvReader",
    "ExcelReader",
    "OdmReader",
    "Reader",
    "RedcapReader",
    "Reject",
    "SdtmReader",
    "Source",
    "SpssReader",
]
