"""Verbatim adverse event terms and medication names as each site types them: by language,
MedDRA PT code or current ATC code -> the variants (brand names, accents, apostrophes)."""

from __future__ import annotations


def _table(text: str) -> dict[str, tuple[str, ...]]:
    rows = (line.split(" ", 1) for line in text.strip().splitlines())
    return {code: tuple(v.strip() for v in names.split("|")) for code, names in rows}


IT = """
10019211 cefalea | mal di testa
10037660 febbre | rialzo febbrile
10046571 infezione delle vie urinarie | IVU
10028813 nausea
10003549 astenia | stanchezza
10016256 affaticamento
10028810 rinofaringite | raffreddore
10022004 sindrome influenzale
10003988 lombalgia | mal di schiena
10003239 artralgia | dolori articolari
10013573 vertigini | capogiri
10033775 parestesie | formicolii
10012735 diarrea
10022437 insonnia | difficoltà ad addormentarsi
10022998 irritabilità
10012378 depressione | umore depresso
10037844 eruzione cutanea | rash cutaneo
10019974 herpes zoster | fuoco di Sant'Antonio
10035664 polmonite
10016173 caduta accidentale
10025327 linfopenia
10054889 aumento delle transaminasi | ipertransaminasemia
10064882 dolore al sito del prelievo | dolore in sede di aspirato midollare
10063188 ematoma in sede di prelievo
10064772 reazione nel sito d'infusione
10051792 reazione infusionale | brividi durante l'infusione
L03AB07 Avonex | Rebif | interferone beta-1a
L03AX13 Copaxone | glatiramer acetato
L04AG03 Tysabri | natalizumab
L04AE01 Gilenya | fingolimod
L04AX07 Tecfidera | dimetilfumarato
L04AK02 Aubagio | teriflunomide
A11CC05 colecalciferolo | Dibase | vitamina D
M03BX01 baclofene | Lioresal
N06AB06 sertralina | Zoloft
H03AA01 levotiroxina | Eutirox
N03AX12 gabapentin | Neurontin
G04BD04 ossibutinina | Ditropan
A02BC02 pantoprazolo | Pantorc
N07XX07 Fampyra | fampridina
N02BE01 paracetamolo | Tachipirina
M01AE01 ibuprofene | Brufen | Moment
J01XX01 fosfomicina | Monuril
J01CR02 amoxicillina/acido clavulanico | Augmentin
H02AB04 metilprednisolone | Solu-Medrol
"""

DA = """
10019211 hovedpine
10037660 feber
10046571 urinvejsinfektion
10028813 kvalme
10003549 kraftesløshed
10016256 træthed
10028810 forkølelse
10022004 influenzalignende symptomer
10003988 rygsmerter
10003239 ledsmerter
10013573 svimmelhed
10033775 prikken og stikken | paræstesier
10012735 diarré
10022437 søvnløshed
10022998 irritabilitet
10012378 depression
10037844 udslæt
10019974 helvedesild
10035664 lungebetændelse
10016173 fald
10025327 lymfopeni
10054889 forhøjede levertal
10064882 smerter ved udtagningsstedet
10063188 blodudtrædning ved udtagningsstedet
10064772 reaktion på infusionsstedet
10051792 infusionsreaktion
L03AB07 Avonex | Rebif
L03AX13 Copaxone
L04AG03 Tysabri
L04AE01 Gilenya
L04AX07 Tecfidera | dimethylfumarat
L04AK02 Aubagio
A11CC05 D-vitamin | D3-vitamin
M03BX01 baclofen
N06AB06 sertralin
H03AA01 levothyroxin | Eltroxin
N03AX12 gabapentin
G04BD04 oxybutynin
A02BC02 pantoprazol
N07XX07 Fampyra
N02BE01 paracetamol | Panodil | Pamol
M01AE01 ibuprofen | Ipren
J01XX01 fosfomycin
J01CR02 amoxicillin/clavulansyre
H02AB04 methylprednisolon | Solu-Medrol
"""

EN = """
10019211 headache
10037660 fever | pyrexia
10046571 urinary tract infection | UTI
10028813 nausea
10003549 asthenia
10016256 fatigue | tiredness
10028810 common cold | nasopharyngitis
10022004 flu-like symptoms
10003988 back pain
10003239 arthralgia | joint pain
10013573 dizziness
10033775 paraesthesia | pins and needles
10012735 diarrhoea
10022437 insomnia
10022998 irritability
10012378 depression
10037844 rash
10019974 shingles | herpes zoster
10035664 pneumonia
10016173 fall
10025327 lymphopenia
10054889 raised liver enzymes
10064882 pain at harvest site
10063188 bruising at harvest site
10064772 infusion site reaction
10051792 infusion reaction
L03AB07 Avonex | Rebif | interferon beta-1a
L03AX13 Copaxone | glatiramer acetate
L04AG03 Tysabri | natalizumab
L04AE01 Gilenya | fingolimod
L04AX07 Tecfidera | dimethyl fumarate
L04AK02 Aubagio | teriflunomide
A11CC05 vitamin D | colecalciferol
M03BX01 baclofen
N06AB06 sertraline
H03AA01 levothyroxine
N03AX12 gabapentin
G04BD04 oxybutynin
A02BC02 pantoprazole
N07XX07 Fampyra | fampridine
N02BE01 paracetamol
M01AE01 ibuprofen | Nurofen
J01XX01 fosfomycin
J01CR02 co-amoxiclav
H02AB04 methylprednisolone | IV methylprednisolone
"""

FR = """
10019211 céphalées | maux de tête
10037660 fièvre
10046571 infection urinaire
10028813 nausées
10003549 asthénie
10016256 fatigue
10028810 rhinopharyngite
10022004 syndrome pseudo-grippal
10003988 lombalgie
10003239 arthralgies
10013573 vertiges
10033775 paresthésies | fourmillements
10012735 diarrhée
10022437 insomnie
10022998 irritabilité
10012378 dépression
10037844 éruption cutanée
10019974 zona
10035664 pneumonie
10016173 chute
10025327 lymphopénie
10054889 élévation des transaminases
10064882 douleur au site de prélèvement
10063188 hématome au point de ponction
10064772 réaction au site de perfusion
10051792 réaction liée à la perfusion
L03AB07 Avonex | Rebif | interféron bêta-1a
L03AX13 Copaxone | acétate de glatiramère
L04AG03 Tysabri
L04AE01 Gilenya
L04AX07 Tecfidera | diméthylfumarate
L04AK02 Aubagio | tériflunomide
A11CC05 cholécalciférol | Uvédose
M03BX01 baclofène | Liorésal
N06AB06 sertraline | Zoloft
H03AA01 lévothyroxine | Lévothyrox
N03AX12 gabapentine | Neurontin
G04BD04 oxybutynine | Ditropan
A02BC02 pantoprazole | Inipomp
N07XX07 Fampyra
N02BE01 paracétamol | Doliprane | Efferalgan
M01AE01 ibuprofène | Advil
J01XX01 fosfomycine | Monuril
J01CR02 amoxicilline/acide clavulanique | Augmentin
H02AB04 méthylprednisolone | Solumédrol
"""

SV = """
10019211 huvudvärk
10037660 feber
10046571 urinvägsinfektion
10028813 illamående
10003549 kraftlöshet
10016256 trötthet
10028810 förkylning
10022004 influensaliknande symtom
10003988 ryggsmärta
10003239 ledvärk
10013573 yrsel
10033775 stickningar | parestesier
10012735 diarré
10022437 sömnsvårigheter
10022998 irritabilitet
10012378 depression | nedstämdhet
10037844 hudutslag
10019974 bältros
10035664 lunginflammation
10016173 fallolycka
10025327 lymfopeni
10054889 förhöjda levervärden
10064882 smärta vid provtagningsstället
10063188 blåmärke vid provtagningsstället
10064772 reaktion vid infusionsstället
10051792 infusionsreaktion
L03AB07 Avonex | Rebif
L03AX13 Copaxone
L04AG03 Tysabri
L04AE01 Gilenya
L04AX07 Tecfidera | dimetylfumarat
L04AK02 Aubagio
A11CC05 D-vitamin
M03BX01 baklofen
N06AB06 sertralin | Zoloft
H03AA01 levotyroxin | Levaxin
N03AX12 gabapentin
G04BD04 oxybutynin
A02BC02 pantoprazol
N07XX07 Fampyra
N02BE01 paracetamol | Alvedon
M01AE01 ibuprofen | Ipren
J01XX01 fosfomycin
J01CR02 amoxicillin/klavulansyra
H02AB04 metylprednisolon | Solu-Medrol
"""

ES = """
10019211 cefalea | dolor de cabeza
10037660 fiebre
10046571 infección urinaria | infección del tracto urinario
10028813 náuseas
10003549 astenia
10016256 cansancio
10028810 resfriado común | rinofaringitis
10022004 síndrome pseudogripal
10003988 lumbalgia | dolor lumbar
10003239 artralgia
10013573 mareo
10033775 parestesias | hormigueo
10012735 diarrea
10022437 insomnio
10022998 irritabilidad
10012378 depresión
10037844 erupción cutánea
10019974 herpes zóster
10035664 neumonía
10016173 caída
10025327 linfopenia
10054889 elevación de transaminasas
10064882 dolor en el lugar de extracción
10063188 hematoma en el punto de punción
10064772 reacción en el lugar de infusión
10051792 reacción infusional
L03AB07 Avonex | Rebif | interferón beta-1a
L03AX13 Copaxone | acetato de glatirámero
L04AG03 Tysabri | natalizumab
L04AE01 Gilenya | fingolimod
L04AX07 Tecfidera | dimetilfumarato
L04AK02 Aubagio | teriflunomida
A11CC05 colecalciferol | vitamina D
M03BX01 baclofeno
N06AB06 sertralina
H03AA01 levotiroxina | Eutirox
N03AX12 gabapentina
G04BD04 oxibutinina
A02BC02 pantoprazol
N07XX07 Fampyra | fampridina
N02BE01 paracetamol | Gelocatil
M01AE01 ibuprofeno | Espidifen
J01XX01 fosfomicina | Monurol
J01CR02 amoxicilina/ácido clavulánico
H02AB04 metilprednisolona | Urbason
"""

VERBATIMS: dict[str, dict[str, tuple[str, ...]]] = {
    lang: _table(text)
    for lang, text in (("it", IT), ("da", DA), ("en", EN), ("fr", FR), ("sv", SV), ("es", ES))
}
