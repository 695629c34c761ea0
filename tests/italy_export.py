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
    "edss.csv": (
        "id_paziente;data_valutazione;edss;fs_piramidale;fs_cerebellare;fs_tronco;fs_sensitivo;"
        "fs_sfinterico;fs_visivo;fs_cerebrale;punteggio_deambulazione;valutatore_cieco\n"
        "000123;22/01/2013;3,5;2;1;1;2;1;0;1;1;sì\n"
        "000123;05/03/2013;3,5;2;1;1;2;1;0;1;1;sì\n"
        "000124;07/03/2013;4,0;3;2;1;2;1;1;1;2;no\n"
    ),
    "msfc.csv": (
        "id_paziente;data_valutazione;t25fw_1;t25fw_2;nhpt_dom_1;nhpt_dom_2;nhpt_nondom_1;"
        "nhpt_nondom_2;pasat3\n"
        "000123;05/03/2013;6,1;5,9;21,0;22,0;23,5;24,1;48\n"
        "000124;06/03/2013;8,0;;25,0;26,0;27,0;28,0;40\n"
    ),
    "ricadute.csv": (
        "id_paziente;data_inizio;data_fine;gravita;recupero;steroidi\n"
        "000123;14/05/2013;30/05/2013;moderata;completo;sì\n"
        "000124;06/2013;;lieve;;no\n"
    ),
    "eventi_avversi.csv": (
        "id_paziente;n_evento;termine_riportato;meddra_pt;meddra_soc;versione_meddra;data_inizio;"
        "data_fine;grave;grave_decesso;grave_pericolo_vita;grave_ospedalizzazione;"
        "grave_disabilita;grave_anomalia_congenita;grave_altro;grado_ctcae;"
        "correlazione_prodotto;correlazione_prelievo;esito\n"
        "000123;1;cefalea;10019211;10029205;16.1;06/03/2013;07/03/2013;no;;;;;;;1;possibile;"
        "non correlato;risolto\n"
        '000123;2;"dolore; sito del prelievo";10033371;10018065;16.1;03/2013;;no;;;;;;;1;'
        "non correlato;probabile;risolto\n"
        "000124;1;infezione delle vie urinarie;10046571;10021881;16.1;2013;;sì;no;no;sì;no;no;"
        "no;3;improbabile;;risolto con postumi\n"
    ),
    "farmaci.csv": (
        "id_paziente;farmaco;codice_atc;versione_atc;data_inizio;data_fine\n"
        "000123;Tysabri (natalizumab);L04AA23;2019;2011;12/2012\n"
        "000124;natalizumab;L04AG03;2024;03/2012;\n"
        "000124;paracetamolo;N02BE01;2019;06/03/2013;08/03/2013\n"
    ),
    "esami.csv": (
        "id_paziente;data_prelievo;esame;valore;unita\n"
        "000123;22/01/2013;creatinina;0,9;mg/dl\n"
        "000123;22/01/2013;emoglobina;13,5;g/dl\n"
        "000123;22/01/2013;linfociti;1.850;/mm3\n"
        "000124;06/03/2013;glicemia;90;mg/dL\n"
        "000124;20/07/2013;ALT;22;UI/L\n"
    ),
}


def write_italy_export(folder: Path, *, encoding: str = "utf-8-sig", **replace: str) -> Path:
    """Write the export; ``replace`` swaps a whole file's text (keyed by file stem)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        text = replace.get(name.removesuffix(".csv"), text)
        (folder / name).write_bytes(text.encode(encoding))
    return folder
