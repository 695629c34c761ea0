"""What patients report and take: adverse event terms with their MedDRA preferred term and
system organ class codes, and medications with their current ATC code. Codes are plausible;
the verbatims (``federate.synth.verbatims``) are in each site's language."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from federate.synth.verbatims import VERBATIMS


@dataclass(frozen=True)
class Term:
    pt: str  # MedDRA preferred term code
    soc: str  # its primary system organ class
    kind: str  # "background", "harvest" (bone-marrow harvest) or "infusion"
    weight: float  # relative frequency among events of its kind
    serious: float  # chance an event is serious


NERVOUS, GENERAL, INFECTIONS, GI = "10029205", "10018065", "10021881", "10017947"
MUSCULOSKELETAL, PSYCHIATRIC, INJURY = "10028395", "10037175", "10022117"

TERMS: tuple[Term, ...] = (
    Term("10019211", NERVOUS, "background", 12, 0.01),  # headache
    Term("10037660", GENERAL, "background", 7, 0.03),  # pyrexia
    Term("10046571", INFECTIONS, "background", 9, 0.05),  # urinary tract infection
    Term("10028813", GI, "background", 6, 0.01),  # nausea
    Term("10003549", GENERAL, "background", 6, 0.0),  # asthenia
    Term("10016256", GENERAL, "background", 7, 0.0),  # fatigue
    Term("10028810", INFECTIONS, "background", 12, 0.0),  # nasopharyngitis
    Term("10022004", GENERAL, "background", 6, 0.01),  # influenza like illness
    Term("10003988", MUSCULOSKELETAL, "background", 6, 0.01),  # back pain
    Term("10003239", MUSCULOSKELETAL, "background", 4, 0.0),  # arthralgia
    Term("10013573", NERVOUS, "background", 4, 0.01),  # dizziness
    Term("10033775", NERVOUS, "background", 4, 0.0),  # paraesthesia
    Term("10012735", GI, "background", 4, 0.01),  # diarrhoea
    Term("10022437", PSYCHIATRIC, "background", 3, 0.0),  # insomnia
    Term("10022998", PSYCHIATRIC, "background", 2, 0.0),  # irritability
    Term("10012378", PSYCHIATRIC, "background", 3, 0.08),  # depression
    Term("10037844", "10040785", "background", 3, 0.0),  # rash
    Term("10019974", INFECTIONS, "background", 1.5, 0.1),  # herpes zoster
    Term("10035664", INFECTIONS, "background", 0.8, 0.6),  # pneumonia
    Term("10016173", INJURY, "background", 3, 0.08),  # fall
    Term("10025327", "10005329", "background", 1.5, 0.0),  # lymphopenia
    Term("10054889", "10022891", "background", 1.5, 0.0),  # transaminases increased
    Term("10064882", INJURY, "harvest", 5, 0.0),  # procedural pain
    Term("10063188", INJURY, "harvest", 2, 0.0),  # post procedural haematoma
    Term("10064772", GENERAL, "infusion", 3, 0.0),  # infusion site reaction
    Term("10051792", INJURY, "infusion", 2, 0.05),  # infusion related reaction
)


@dataclass(frozen=True)
class Drug:
    atc: str  # current (2024) ATC code
    kind: str  # "dmt" (earlier MS treatment), "chronic", "acute" or "relapse" (steroids)
    share: float  # dmt/chronic: chance a patient takes it; acute: courses per patient-year
    since: int = 1950  # the year it came on the market


DRUGS: tuple[Drug, ...] = (
    Drug("L03AB07", "dmt", 0.35, 1997),  # interferon beta-1a
    Drug("L03AX13", "dmt", 0.2, 2001),  # glatiramer acetate
    Drug("L04AG03", "dmt", 0.15, 2006),  # natalizumab (L04AA23 before 2024)
    Drug("L04AE01", "dmt", 0.12, 2011),  # fingolimod (L04AA27 before 2024)
    Drug("L04AX07", "dmt", 0.1, 2014),  # dimethyl fumarate (N07XX09 before 2019)
    Drug("L04AK02", "dmt", 0.06, 2013),  # teriflunomide (L04AA31 before 2024)
    Drug("A11CC05", "chronic", 0.45),  # colecalciferol
    Drug("M03BX01", "chronic", 0.15),  # baclofen
    Drug("N06AB06", "chronic", 0.1),  # sertraline
    Drug("H03AA01", "chronic", 0.06),  # levothyroxine
    Drug("N03AX12", "chronic", 0.07),  # gabapentin
    Drug("G04BD04", "chronic", 0.08),  # oxybutynin
    Drug("A02BC02", "chronic", 0.08),  # pantoprazole
    Drug("N07XX07", "chronic", 0.05, 2011),  # fampridine
    Drug("N02BE01", "acute", 1.0),  # paracetamol
    Drug("M01AE01", "acute", 0.5),  # ibuprofen
    Drug("J01XX01", "acute", 0.15),  # fosfomycin
    Drug("J01CR02", "acute", 0.2),  # amoxicillin and clavulanic acid
    Drug("H02AB04", "relapse", 1.0),  # methylprednisolone
)


def pick_names(codes: list[str], language: str, which: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The verbatim of ``codes[which]`` in ``language``: one of its variants, by uniform ``u``."""
    variants = [VERBATIMS[language][code] for code in codes]
    flat = np.array([v for vs in variants for v in vs], dtype=object)
    counts = np.array([len(vs) for vs in variants])
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    picked: np.ndarray = flat[offsets[which] + (u * counts[which]).astype(np.int64)]
    return picked
