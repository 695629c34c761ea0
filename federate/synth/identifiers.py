"""Realistic values for the identifying columns an export carries and the adapter drops.

``GENERATORS`` maps a dropped column name to a function of ``People``; a new country adds its
own (CPR, personnummer, NHS number...). Every generator is a pure function of the people (their
draws pick the names), so a codice fiscale always agrees with the name, sex and date of birth
written beside it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from federate.synth.base import People

IdGenerator = Callable[[People], pa.Array]

# Draw columns of People.draws
_FIRST, _SURNAME, _BIRTHPLACE = 0, 1, 2

IT_FEMALE = (
    "Giulia",
    "Francesca",
    "Chiara",
    "Sara",
    "Valentina",
    "Alessandra",
    "Federica",
    "Silvia",
    "Elena",
    "Martina",
    "Laura",
    "Paola",
    "Roberta",
    "Simona",
    "Elisa",
    "Anna",
    "Maria",
    "Ilaria",
    "Daniela",
    "Cristina",
    "Monica",
    "Barbara",
    "Lucia",
    "Serena",
    "Veronica",
    "Noemi",
    "Beatrice",
    "Rosaria",
    "Nicoletta",
    "Maria Grazia",
)
IT_MALE = (
    "Marco",
    "Luca",
    "Andrea",
    "Alessandro",
    "Matteo",
    "Giuseppe",
    "Francesco",
    "Stefano",
    "Davide",
    "Simone",
    "Paolo",
    "Roberto",
    "Giovanni",
    "Antonio",
    "Fabio",
    "Massimo",
    "Niccolò",
    "Nicolò",
    "Mosè",
    "Lorenzo",
    "Riccardo",
    "Gabriele",
    "Pietro",
    "Salvatore",
)
IT_SURNAMES = (
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
    "Longo",
    "Gentile",
    "Vitale",
    "Serra",
    "D'Angelo",
    "D'Amico",
    "Dell'Acqua",
    "De Santis",
    "Parisi",
    "Villa",
    "Sanna",
    "Fabbri",
    "Cantù",
    "Lucà",
    "Pirrò",
    "Papà",
    "Nicolò",
    "Sciarrà",
)
# Cadastral (Belfiore) codes of birthplaces
IT_BIRTHPLACES = (
    "D969",  # Genova
    "F205",  # Milano
    "H501",  # Roma
    "L219",  # Torino
    "F839",  # Napoli
    "G273",  # Palermo
    "A944",  # Bologna
    "D612",  # Firenze
    "A662",  # Bari
    "I480",  # Savona
    "E463",  # La Spezia
)

_MONTHS = "ABCDEHLMPRST"
_ODD = np.array(
    [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23]
)
_VOWELS = set("AEIOU")


def _pick(options: tuple[str, ...], draws: np.ndarray) -> np.ndarray:
    table = np.array(options, dtype=object)
    return table[np.minimum((draws * len(options)).astype(np.int64), len(options) - 1)]


def italian_first_names(people: People) -> np.ndarray:
    u = people.draws[:, _FIRST]
    return np.where(people.sex == "F", _pick(IT_FEMALE, u), _pick(IT_MALE, u))


def italian_surnames(people: People) -> np.ndarray:
    return _pick(IT_SURNAMES, people.draws[:, _SURNAME])


def _letters(name: str) -> str:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.upper() if ch.isalpha())


def surname_code(surname: str) -> str:
    """Consonants, then vowels, then X: the first three."""
    letters = _letters(surname)
    consonants = [c for c in letters if c not in _VOWELS]
    vowels = [c for c in letters if c in _VOWELS]
    return ("".join(consonants + vowels) + "XXX")[:3]


def first_name_code(name: str) -> str:
    """As the surname, except that four or more consonants give the 1st, 3rd and 4th."""
    consonants = [c for c in _letters(name) if c not in _VOWELS]
    if len(consonants) >= 4:
        return consonants[0] + consonants[2] + consonants[3]
    return surname_code(name)


def check_letters(first15: np.ndarray) -> np.ndarray:
    """The codice fiscale check letter of each 15-character prefix (DOMAIN.md §4)."""
    raw = np.frombuffer(np.array(first15, dtype="S15").tobytes(), np.uint8).reshape(-1, 15)
    index = np.where(raw <= ord("9"), raw - ord("0"), raw - ord("A")).astype(np.int64)
    odd = _ODD[index[:, 0::2]].sum(axis=1)  # 1-based odd positions
    even = index[:, 1::2].sum(axis=1)
    return np.array([chr(65 + v) for v in ((odd + even) % 26).tolist()], dtype=object)


def codici_fiscali(people: People) -> pa.Array:
    surname = np.array([surname_code(s) for s in italian_surnames(people)], dtype=object)
    first = np.array([first_name_code(s) for s in italian_first_names(people)], dtype=object)
    birth = people.birth_date.astype("datetime64[D]")
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = birth.astype("datetime64[M]").astype(np.int64) % 12
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    day = day + np.where(people.sex == "F", 40, 0)
    place = _pick(IT_BIRTHPLACES, people.draws[:, _BIRTHPLACE])
    prefix = [
        f"{s}{f}{y % 100:02d}{_MONTHS[m]}{d:02d}{p}"
        for s, f, y, m, d, p in zip(surname, first, year, month, day, place, strict=True)
    ]
    prefix_array = np.array(prefix, dtype=object)
    return pa.array(prefix_array + check_letters(prefix_array), pa.string())


GENERATORS: dict[str, IdGenerator] = {
    "codice_fiscale": codici_fiscali,
    "nome": lambda people: pa.array(italian_first_names(people), pa.string()),
    "cognome": lambda people: pa.array(italian_surnames(people), pa.string()),
}
