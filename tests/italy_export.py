"""A small, clean, hand-written Italian export (three patients), for fast engine tests.

Written by hand on purpose, independent of the simulator, so that the engine is tested against
an export nobody generated from the adapter's own declaration.
"""

from __future__ import annotations

from pathlib import Path

FILES: dict[str, str] = {
    "pazienti.csv": (
        "id_paziente;centro;codice_fiscale;nome;cognome;data_nascita;sesso;forma_sm;data_diagnosi\n"
        "000123;Genova;RCCMNL83S18D969H;Emanuele;Ricci;18/11/1983;maschio;SMRR;01/02/2010\n"
        "124;Roma;BNCNNA85C41H501X;Anna;Bianchi;01/03/85;femmina;secondariamente progressiva;"
        "15/06/08\n"
        "000125;Milano;VRDLCU90A50F205Z;Lúcia;Verdì;10/01/1990;femmina;SMRR;03/03/2011\n"
    ),
    "randomizzazione.csv": (
        "id_paziente;sequenza;data_randomizzazione\n"
        "000123;CELLULE-PLACEBO;01/03/2013\n"
        "000124;PLACEBO-CELLULE;02/03/2013\n"
        "000125;placebo-cellule;04/03/13\n"
    ),
    "infusioni.csv": (
        "id_paziente;periodo;data_infusione;prodotto;dose_milioni_cellule_kg;peso_kg;"
        "vitalita_pct;lotto\n"
        "000123;1;05/03/2013;cellule staminali;1,50;70,5;92,0;l-001\n"
        "000123;2;20/08/2013;placebo;;71,0;;\n"
        "000124;1;06/03/2013;placebo;;64,2;;\n"
        "000124;2;21/08/2013;cellule staminali;1,85;63,9;95,5;L-002\n"
    ),
    "visite.csv": (
        "id_paziente;visita;settimana;data_visita\n"
        "000123;SCREENING;-6;22/01/2013\n"
        "000123;BASALE;0;05/03/2013\n"
        "000123;SETT4;4;02/04/2013\n"
        "000124;BASALE;0;06/03/2013\n"
        "000124;NON PROGRAMMATA;;20/05/2013\n"
    ),
    "rm.csv": (
        "id_paziente;visita;data_rm;campo_tesla;lesioni_gd;lesioni_t2_nuove;lesioni_cua;"
        "volume_t2_ml;volume_cerebrale_ml;lettura_centrale\n"
        "000123;BASALE;05/03/2013;1,5;2;1;3;12,50;1.500,0;sì\n"
        "000123;SETT4;02/04/2013;3;0;0;0;12,00;1499,5;SI\n"
        "000123;SETT12;28/05/2013;3;1;1;2;12,10;1498,0;no\n"
        "000124;BASALE;06/03/2013;3;0;;;8,25;1611,0;sì\n"
        "000124;SETT4;03/04/2013;3;4;2;5;8,40;1610,5;sì\n"
    ),
}


def write_italy_export(folder: Path, *, encoding: str = "utf-8-sig", **replace: str) -> Path:
    """Write the export; ``replace`` swaps a whole file's text (keyed by file stem)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        text = replace.get(name.removesuffix(".csv"), text)
        (folder / name).write_bytes(text.encode(encoding))
    return folder
