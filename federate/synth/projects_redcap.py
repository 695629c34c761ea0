"""The REDCap projects the simulator exports from, one per site whose adapter reads REDCap: the
data dictionary (fields in order, Danish labels, choices, validation types, identifier flags),
which events each instrument is designated for, and what repeats.

An adapter says how to read a project and names its events, repeating instruments and data
access groups (with the labels a label export writes); what only the export carries (field
labels, choice labels, validation, branching) is declared here, the way the project's designer
built it in REDCap's Online Designer.
"""

from __future__ import annotations

from dataclasses import dataclass

from federate.readers.redcap_dictionary import parse_choices


@dataclass(frozen=True)
class Item:
    """One field: one row of the data dictionary."""

    name: str
    type: str  # text, notes, radio, dropdown, checkbox, calc, yesno...
    label: str
    choices: str = ""  # "1, Ja | 0, Nej" as the dictionary writes them; a calc's formula
    validation: str = ""  # date_dmy, integer, number_comma_decimal...
    identifier: bool = False
    note: str = ""
    branching: str = ""
    required: bool = False
    minimum: str = ""
    maximum: str = ""
    section: str = ""
    annotation: str = ""

    def codes(self) -> dict[str, str]:
        """Choice code -> label (radio, dropdown, checkbox)."""
        return dict(parse_choices(self.choices)) if self.type in CHOICE_TYPES else {}


CHOICE_TYPES = ("radio", "dropdown", "checkbox")


@dataclass(frozen=True)
class Instrument:
    name: str
    events: tuple[str, ...]  # the events it is designated for
    items: tuple[Item, ...]
    repeating: bool = False
    # On a repeating event: the shared date column whose value tells its instances apart
    # (forms filled on the same day share an instance).
    instance_date: str | None = None


@dataclass(frozen=True)
class Project:
    title: str
    events: tuple[str, ...]  # unique event names, in the project's order
    instruments: tuple[Instrument, ...]
    repeating_events: tuple[str, ...] = ()

    @property
    def record_id(self) -> str:
        return self.instruments[0].items[0].name

    def instrument(self, name: str) -> Instrument:
        for instrument in self.instruments:
            if instrument.name == name:
                return instrument
        raise KeyError(f"the REDCap project {self.title!r} has no instrument {name!r}")


def _number(
    name: str,
    label: str,
    validation: str,
    *,
    minimum: str = "",
    maximum: str = "",
    branching: str = "",
    annotation: str = "",
) -> Item:
    return Item(
        name,
        "text",
        label,
        validation=validation,
        minimum=minimum,
        maximum=maximum,
        branching=branching,
        annotation=annotation,
    )


def _date(name: str, label: str, *, identifier: bool = False, required: bool = False) -> Item:
    return Item(
        name, "text", label, validation="date_dmy", identifier=identifier, required=required
    )


def _grades(top: int) -> str:
    """A functional system's grades, 0 to top, as dropdown choices."""
    return " | ".join(f"{g}, {g}" for g in range(top + 1))


def _ja_nej(name: str, label: str, branching: str = "") -> Item:
    # Radio rather than yesno: a Danish project's label export then writes Ja/Nej.
    return Item(name, "radio", label, "1, Ja | 0, Nej", branching=branching)


def _partial(name: str, label: str) -> Item:
    # REDCap's date validation cannot hold a month or a year alone: free text, with a note.
    return Item(name, "text", label, note="dd-mm-åååå, mm-åååå eller åååå")


_VISITS = tuple(f"{v}_arm_1" for v in ("scr", "w0", "w4", "w12", "w24", "w28", "w36", "w48"))
_ASSESSED = ("scr_arm_1", "w0_arm_1", "w12_arm_1", "w24_arm_1", "w36_arm_1", "w48_arm_1")
_LABS = ("scr_arm_1", "w0_arm_1", "w4_arm_1", "w12_arm_1", "w24_arm_1", "w48_arm_1")
_UNS, _ONGOING = "uns_arm_1", "lobende_arm_1"
_SAE = "[alvorlig] = '1'"
_MSC = "[produkt] = '1'"
_RELATED = "1, Ikke relateret | 2, Usandsynlig | 3, Mulig | 4, Sandsynlig | 5, Sikker"

DENMARK = Project(
    "MESEMS Danmark",
    events=(*_VISITS, _UNS, _ONGOING),
    repeating_events=(_UNS,),
    instruments=(
        Instrument(
            "demografi",
            ("scr_arm_1",),
            (
                Item("record_id", "text", "Forsøgsperson-ID"),
                Item("cpr", "text", "CPR-nummer", identifier=True, note="DDMMÅÅ-XXXX"),
                _date("foedselsdato", "Fødselsdato", identifier=True),
                Item("foedselsaar", "calc", "Fødselsår", "year([foedselsdato])"),
                Item("koen", "radio", "Køn", "0, Kvinde | 1, Mand", required=True),
                Item(
                    "ms_forloeb",
                    "radio",
                    "MS-forløb ved inklusion",
                    "1, Attakvis (RRMS) | 2, Sekundær progressiv (SPMS) | "
                    "3, Primær progressiv (PPMS)",
                ),
                _date("diagnosedato", "Diagnosedato"),
            ),
        ),
        Instrument(
            "randomisering",
            ("w0_arm_1",),
            (
                _date("rand_dato", "Randomiseringsdato"),
                Item("sekvens", "radio", "Sekvens", "1, MSC - placebo | 2, Placebo - MSC"),
            ),
        ),
        Instrument(
            "infusion",
            ("w0_arm_1", "w24_arm_1"),
            (
                _date("inf_dato", "Infusionsdato"),
                Item(
                    "produkt", "radio", "Præparat", "1, Mesenkymale stamceller (MSC) | 2, Placebo"
                ),
                _number(
                    "dosis",
                    "Dosis (10^6 celler/kg)",
                    "number_2dp_comma_decimal",
                    branching=_MSC,
                ),
                _number("vaegt", "Vægt (kg)", "number_1dp_comma_decimal"),
                _number(
                    "viabilitet",
                    "Viabilitet (%)",
                    "number_1dp_comma_decimal",
                    branching=_MSC,
                ),
                Item("lot_nr", "text", "Lotnummer", branching=_MSC),
            ),
        ),
        Instrument(
            "besoeg",
            (*_VISITS, _UNS),
            (
                _date("besoegsdato", "Besøgsdato", required=True),
                _number("uge", "Protokoluge", "integer", annotation="@READONLY"),
            ),
            instance_date="visit_date",
        ),
        Instrument(
            "mr",
            (*_VISITS, _UNS),
            (
                _date("mr_dato", "Scanningsdato"),
                Item("mr_felt", "radio", "Feltstyrke", "1, 1,5 tesla | 2, 3 tesla"),
                _number("gd_laesioner", "Gd-opladende læsioner", "integer", minimum="0"),
                _number("nye_t2_laesioner", "Nye eller forstørrede T2-læsioner", "integer"),
                _number("cua_laesioner", "Kombinerede unikke aktive læsioner (CUA)", "integer"),
                _number("t2_volumen", "T2-læsionsvolumen (ml)", "number_2dp_comma_decimal"),
                _number(
                    "hjernevolumen", "Normaliseret hjernevolumen (ml)", "number_1dp_comma_decimal"
                ),
                _ja_nej("central_vurdering", "Centralt vurderet"),
            ),
            instance_date="scan_date",
        ),
        Instrument(
            "edss",
            (*_ASSESSED, _UNS),
            (
                _date("edss_dato", "Dato"),
                _number(
                    "edss_score",
                    "EDSS",
                    "number_1dp_comma_decimal",
                    minimum="0",
                    maximum="10",
                ),
                Item(
                    "fs_pyramidal",
                    "dropdown",
                    "FS pyramidal",
                    _grades(6),
                    section="Funktionelle systemer",
                ),
                Item("fs_cerebellar", "dropdown", "FS cerebellar", _grades(5)),
                Item("fs_hjernestamme", "dropdown", "FS hjernestamme", _grades(5)),
                Item("fs_sensorisk", "dropdown", "FS sensorisk", _grades(6)),
                Item("fs_blaere_tarm", "dropdown", "FS blære og tarm", _grades(6)),
                Item("fs_syn", "dropdown", "FS syn", _grades(6)),
                Item("fs_cerebral", "dropdown", "FS cerebral (mental)", _grades(5)),
                _number("ambulation", "Ambulationsscore (0-16)", "integer", maximum="16"),
                _ja_nej("blindet_bedoemmer", "Blindet bedømmer"),
            ),
            instance_date="assessment_date",
        ),
        Instrument(
            "msfc",
            _ASSESSED,
            (
                _date("msfc_dato", "Dato"),
                _number("t25fw_1", "T25FW forsøg 1 (s)", "number_1dp_comma_decimal"),
                _number("t25fw_2", "T25FW forsøg 2 (s)", "number_1dp_comma_decimal"),
                _number(
                    "nhpt_dom_1", "9HPT dominant hånd forsøg 1 (s)", "number_1dp_comma_decimal"
                ),
                _number(
                    "nhpt_dom_2", "9HPT dominant hånd forsøg 2 (s)", "number_1dp_comma_decimal"
                ),
                _number(
                    "nhpt_ikkedom_1", "9HPT anden hånd forsøg 1 (s)", "number_1dp_comma_decimal"
                ),
                _number(
                    "nhpt_ikkedom_2", "9HPT anden hånd forsøg 2 (s)", "number_1dp_comma_decimal"
                ),
                _number("pasat3", "PASAT-3 (antal rigtige)", "integer", maximum="60"),
            ),
        ),
        Instrument(
            "attak",
            (_ONGOING,),
            (
                _partial("attak_debut", "Debutdato"),
                _partial("attak_slut", "Slutdato"),
                Item("attak_svaerhed", "radio", "Sværhedsgrad", "1, Let | 2, Moderat | 3, Svær"),
                Item(
                    "attak_restitution",
                    "radio",
                    "Restitution",
                    "1, Fuldstændig | 2, Delvis | 3, Ingen",
                ),
                Item(
                    "attak_behandling",
                    "checkbox",
                    "Behandling",
                    "1, Methylprednisolon (H02AB04) | 2, Plasmaferese",
                ),
            ),
            repeating=True,
        ),
        Instrument(
            "haendelser",
            (_ONGOING,),
            (
                Item("ae_term", "text", "Hændelse"),
                Item("meddra_pt", "text", "MedDRA PT-kode", section="MedDRA-kodning"),
                Item("meddra_soc", "text", "MedDRA SOC-kode"),
                Item("meddra_version", "text", "MedDRA-version"),
                _partial("ae_debut", "Debutdato"),
                _partial("ae_slut", "Slutdato"),
                _ja_nej("alvorlig", "Alvorlig (SAE)"),
                _ja_nej("sae_doed", "Død", _SAE),
                _ja_nej("sae_livstruende", "Livstruende", _SAE),
                _ja_nej("sae_indlaeggelse", "Indlæggelse eller forlænget indlæggelse", _SAE),
                _ja_nej("sae_invaliditet", "Varig invaliditet", _SAE),
                _ja_nej("sae_misdannelse", "Medfødt misdannelse", _SAE),
                _ja_nej("sae_andet", "Anden vigtig medicinsk hændelse", _SAE),
                Item(
                    "ctcae_grad",
                    "radio",
                    "CTCAE-grad",
                    "1, Grad 1 - let | 2, Grad 2 - moderat | 3, Grad 3 - svær | "
                    "4, Grad 4 - livstruende | 5, Grad 5 - død",
                ),
                Item("relation_produkt", "radio", "Relation til forsøgspræparat", _RELATED),
                Item("relation_udtagning", "radio", "Relation til knoglemarvsudtagning", _RELATED),
                Item(
                    "ae_udfald",
                    "radio",
                    "Udfald",
                    "1, Restitueret | 2, Under restitution | 3, Ikke restitueret | "
                    "4, Restitueret med følger | 5, Død | 6, Ukendt",
                ),
            ),
            repeating=True,
        ),
        Instrument(
            "medicin",
            (_ONGOING,),
            (
                Item("praeparat", "text", "Præparat"),
                Item("atc_kode", "text", "ATC-kode"),
                Item("atc_version", "text", "ATC-version (år)"),
                _partial("med_start", "Startdato"),
                _partial("med_slut", "Slutdato"),
            ),
            repeating=True,
        ),
        Instrument(
            "blodproever",
            _LABS,
            (
                _date("proevedato", "Prøvedato"),
                Item(
                    "analyse",
                    "dropdown",
                    "Analyse",
                    "1, P-Kreatinin | 2, B-Hæmoglobin | 3, P-Glukose | 4, P-ALAT | 5, P-ASAT | "
                    "6, B-Lymfocytter | 7, P-Bilirubin",
                ),
                _number("resultat", "Resultat", "number_comma_decimal"),
                Item("enhed", "text", "Enhed"),
            ),
            repeating=True,
        ),
    ),
)

# Site -> its REDCap project.
PROJECTS: dict[str, Project] = {"denmark": DENMARK}
