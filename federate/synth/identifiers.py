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


_NHS_WEIGHTS = np.arange(10, 1, -1)


def nhs_check_digits(first9: np.ndarray) -> np.ndarray:
    """The NHS number check digit of each 9-digit integer (DOMAIN.md §4); 10 means none fits."""
    digits = (first9[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    check: np.ndarray = (11 - (digits * _NHS_WEIGHTS).sum(axis=1) % 11) % 11
    return check


def nhs_numbers(people: People) -> pa.Array:
    """Valid NHS numbers (England's 400-499 million range), written "NNN NNN NNNN". A base
    with no valid check digit moves to the next one, as the issuing service skips it."""
    base = 400_000_000 + (people.draws[:, 3] * 99_999_000).astype(np.int64)
    while (invalid := nhs_check_digits(base) == 10).any():
        base = np.where(invalid, base + 1, base)
    number = base * 10 + nhs_check_digits(base)
    text = [f"{n // 10**7:03d} {n // 10**4 % 1000:03d} {n % 10**4:04d}" for n in number.tolist()]
    return pa.array(text, pa.string())


SE_FEMALE = (
    "Anna",
    "Eva",
    "Maria",
    "Karin",
    "Kristina",
    "Lena",
    "Sara",
    "Emma",
    "Elin",
    "Malin",
    "Linnéa",
    "Åsa",
    "Johanna",
    "Ingrid",
    "Märta",
    "Frida",
)
SE_MALE = (
    "Lars",
    "Anders",
    "Johan",
    "Per",
    "Erik",
    "Karl",
    "Mikael",
    "Fredrik",
    "Magnus",
    "Björn",
    "Håkan",
    "Göran",
    "Jonas",
    "Oskar",
)
SE_SURNAMES = (
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Jönsson",
    "Lindström",
    "Lindqvist",
    "Bergström",
    "Sjöberg",
    "Engström",
    "Håkansson",
    "Åberg",
    "Öberg",
    "Ström",
)


def swedish_names(people: People) -> pa.Array:
    """ "Förnamn Efternamn", as the Swedish patient file writes the name."""
    u = people.draws[:, _FIRST]
    first = np.where(people.sex == "F", _pick(SE_FEMALE, u), _pick(SE_MALE, u))
    surname = _pick(SE_SURNAMES, people.draws[:, _SURNAME])
    return pa.array((first + " " + surname).tolist(), pa.string())


def luhn_check_digits(first9: np.ndarray) -> np.ndarray:
    """The personnummer check digit of each 9-digit string YYMMDDNNN (Luhn, DOMAIN.md §4)."""
    digits = np.array([[int(c) for c in s] for s in first9], dtype=np.int64).reshape(-1, 9)
    doubled = digits * np.array([2, 1, 2, 1, 2, 1, 2, 1, 2])
    total = (doubled // 10 + doubled % 10).sum(axis=1)
    check: np.ndarray = (10 - total % 10) % 10
    return check


def personnummer(people: People) -> pa.Array:
    """12-digit personnummer "yyyymmdd-nnnc" of the birth date: the third serial digit is odd
    for men and even for women, and the last is the Luhn check over the 10-digit form."""
    birth = people.birth_date.astype("datetime64[D]").astype(object)
    serial = 2 * (people.draws[:, 3] * 499).astype(np.int64) + 2  # 002-998, even
    serial += people.sex == "M"
    stems = np.array(
        [f"{d:%y%m%d}{s:03d}" for d, s in zip(birth, serial.tolist(), strict=True)], dtype=object
    )
    check = luhn_check_digits(stems)
    text = [
        f"{d:%Y%m%d}-{stem[6:]}{c}" for d, stem, c in zip(birth, stems, check.tolist(), strict=True)
    ]
    return pa.array(text, pa.string())


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_letters(numbers: np.ndarray) -> np.ndarray:
    """The DNI/NIE check letter of each number (DOMAIN.md §4; a NIE's X/Y/Z counts as 0/1/2)."""
    return np.array([_DNI_LETTERS[n % 23] for n in numbers.tolist()], dtype=object)


def dni_nie(people: People) -> pa.Array:
    """Spanish DNI "12345678Z"; about one patient in ten, a foreign resident, has a NIE
    "X1234567L" instead. Valid check letters, so the identifier gate must catch them."""
    serial = 10_000_000 + (people.draws[:, 3] * 79_999_999).astype(np.int64)
    nie = serial % 10 == 0
    prefix = serial // 10 % 3  # X, Y or Z
    body = np.where(nie, prefix * 10_000_000 + serial // 10 % 10_000_000, serial)
    letters = dni_letters(body)
    text = [
        f"{'XYZ'[p]}{b % 10_000_000:07d}{c}" if n else f"{b:08d}{c}"
        for n, p, b, c in zip(nie.tolist(), prefix.tolist(), body.tolist(), letters, strict=True)
    ]
    return pa.array(text, pa.string())


def iso_birth_dates(people: People) -> pa.Array:
    """The full date of birth as yyyy-mm-dd (as OpenClinica's subject record holds it)."""
    return pa.array(people.birth_date.astype("datetime64[D]"), pa.date32()).cast(pa.string())


# DK CPR (DOMAIN.md §4): DDMMYY-SSSS. The first serial digit tells the century of birth (4 and 9
# also 1937-1999; 5-8 the 1800s and 2000-2057), the last is odd for men and even for women, and
# numbers issued before 2007 pass the modulus-11 check.
_CPR_WEIGHTS = (4, 3, 2, 7, 6, 5, 4, 3, 2, 1)


def _cpr_century_digits(year: int) -> str:
    if year < 1900:
        return "5678"
    if year < 1937:
        return "0123"
    if year < 2000:
        return "012349"
    return "456789" if year < 2037 else "5678"


def cpr_numbers(people: People) -> pa.Array:
    """CPR numbers of the birth date and sex, valid under modulus 11; the serial starts from the
    patient's draw and steps on until the check digit fits (as the CPR office skipped)."""
    birth = people.birth_date.astype("datetime64[D]").astype(object)
    numbers = []
    for day, sex, u in zip(birth, people.sex, people.draws[:, 3].tolist(), strict=True):
        stem, centuries, start = f"{day:%d%m%y}", _cpr_century_digits(day.year), int(u * 1e6)
        for step in range(1000):
            serial = f"{(start + step) % 1000:03d}"
            digits = [int(c) for c in stem + serial]
            check = -sum(w * d for w, d in zip(_CPR_WEIGHTS, digits, strict=False)) % 11
            if serial[0] in centuries and check < 10 and check % 2 == (sex == "M"):
                numbers.append(f"{stem}-{serial}{check}")
                break
    return pa.array(numbers, pa.string())


def danish_birth_dates(people: People) -> pa.Array:
    """The date of birth as dd-mm-yyyy (REDCap's date_dmy)."""
    birth = people.birth_date.astype("datetime64[D]").astype(object)
    return pa.array([f"{d:%d-%m-%Y}" for d in birth], pa.string())


# FR NIR (DOMAIN.md §4): sex (1 man, 2 woman), year and month of birth, département of birth
# (2A/2B in Corsica, 99 born abroad), commune, order number, then the key.
FR_DEPARTMENTS = (
    *("75", "69", "13", "31", "33", "59", "67", "44", "06", "34", "35", "38", "92", "93", "94"),
    *("2A", "2B", "99"),
)


def nir_keys(bodies: list[str]) -> list[int]:
    """97 - (the 13 digits mod 97), Corsica's 2A and 2B counting as 19 and 18."""
    return [97 - int(b.replace("2A", "19").replace("2B", "18")) % 97 for b in bodies]


def nirs(people: People) -> pa.Array:
    """15-character NIRs (no spaces, as a database field holds them) of each patient's sex and
    month of birth, with a valid key, so the identifier gate must catch them."""
    month = people.birth_date.astype("datetime64[M]").astype(np.int64)
    u = people.draws[:, _BIRTHPLACE]
    department = _pick(FR_DEPARTMENTS, u)
    commune = 1 + (u * 1e6).astype(np.int64) % 999
    order = 1 + (people.draws[:, 3] * 999).astype(np.int64)
    bodies = [
        f"{1 if s == 'M' else 2}{(m // 12 + 1970) % 100:02d}{m % 12 + 1:02d}{d}{c:03d}{o:03d}"
        for s, m, d, c, o in zip(
            people.sex, month.tolist(), department, commune.tolist(), order.tolist(), strict=True
        )
    ]
    return pa.array([f"{b}{k:02d}" for b, k in zip(bodies, nir_keys(bodies), strict=True)])


GENERATORS: dict[str, IdGenerator] = {
    "personnummer": personnummer,
    "namn": swedish_names,
    "codice_fiscale": codici_fiscali,
    "nome": lambda people: pa.array(italian_first_names(people), pa.string()),
    "cognome": lambda people: pa.array(italian_surnames(people), pa.string()),
    "NHS number": nhs_numbers,
    "OpenClinica:UniqueIdentifier": dni_nie,
    "OpenClinica:DateOfBirth": iso_birth_dates,
    "cpr": cpr_numbers,
    "foedselsdato": danish_birth_dates,
    "NIR": nirs,
}
