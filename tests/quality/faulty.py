"""The hand-written Italian export with the five faults a coordinator meets most: a date that
does not exist, an unknown visit code, a unit outside the list, a patient entered twice with
different sex (a key conflict) and a patient entered twice identically (a duplicate)."""

from __future__ import annotations

from pathlib import Path

from tests.italy_export import FILES, write_italy_export

PATIENTS = (
    FILES["pazienti.csv"]
    + "000125;Milano;VRDLCU90A50F205Z;Lúcia;Verdì;10/01/1990;femmina;SMRR;03/03/2011\n"
    + "124;Roma;BNCNNA85C41H501X;Anna;Bianchi;01/03/85;maschio;secondariamente progressiva;"
    "15/06/08\n"
)
VISITS = FILES["visite.csv"].replace("000123;BASALE;0;05/03/2013", "000123;BASALEE;0;05/03/2013")
EDSS = FILES["edss.csv"].replace("000124;07/03/2013", "000124;31/02/2013")
LABS = FILES["esami.csv"].replace("0,9;mg/dl", "0,9;mg%")


def write_faulty_export(folder: Path) -> Path:
    return write_italy_export(folder, pazienti=PATIENTS, visite=VISITS, edss=EDSS, esami=LABS)
