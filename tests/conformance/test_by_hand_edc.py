"""Exports written by hand from ``docs/sites/SITE.md`` alone, as a coordinator would make them:
small, literal, using what the document allows (column names in another case, codes in another
case, two-digit years, digit grouping, partial dates, title rows, value labels...). Each pools
with exit 0, nothing quarantined, and the values the document promises. The sites that
export from an EDC or as SDTM: Denmark (REDCap), Spain (OpenClinica ODM), France (SDTM)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.conformance.check import Rows, ingest_by_hand, pooled

# -- Denmark: docs/sites/denmark.md ---------------------------------------------------------------

DENMARK_DICTIONARY = """\
Variable / Field Name,Form Name,Field Type,Field Label,"Choices, Calculations, OR Slider Labels",\
Text Validation Type OR Show Slider Number,Identifier?
record_id,demografi,text,Forsøgsperson,,,
cpr,demografi,text,CPR-nummer,,,y
foedselsdato,demografi,text,Fødselsdato,,date_dmy,y
foedselsaar,demografi,calc,Fødselsår,year([foedselsdato]),,
koen,demografi,radio,Køn,"0, Kvinde | 1, Mand",,
ms_forloeb,demografi,radio,MS-forløb,"1, Attakvis | 2, Sekundær progressiv | 3, Primær progressiv",,
diagnosedato,demografi,text,Diagnosedato,,date_dmy,
sekvens,randomisering,radio,Sekvens,"1, MSC - placebo | 2, Placebo - MSC",,
rand_dato,randomisering,text,Randomiseringsdato,,date_dmy,
inf_dato,infusion,text,Infusionsdato,,date_dmy,
produkt,infusion,radio,Produkt,"1, MSC | 2, Placebo",,
dosis,infusion,text,Dosis,,number_comma_decimal,
vaegt,infusion,text,Vægt (kg),,number_comma_decimal,
viabilitet,infusion,text,Viabilitet (%),,number_comma_decimal,
lot_nr,infusion,text,Lot-nr.,,,
uge,besoeg,text,Uge,,integer,
besoegsdato,besoeg,text,Besøgsdato,,date_dmy,
mr_dato,mr,text,MR-dato,,date_dmy,
mr_felt,mr,radio,Feltstyrke,"1, 1,5 T | 2, 3 T",,
gd_laesioner,mr,text,Gd+ læsioner,,integer,
nye_t2_laesioner,mr,text,Nye T2-læsioner,,integer,
cua_laesioner,mr,text,CUA-læsioner,,integer,
t2_volumen,mr,text,T2-volumen (mL),,number_comma_decimal,
hjernevolumen,mr,text,Hjernevolumen (mL),,number_comma_decimal,
central_vurdering,mr,yesno,Central vurdering,,,
edss_dato,edss,text,Dato,,date_dmy,
edss_score,edss,text,EDSS,,number_comma_decimal,
fs_pyramidal,edss,text,FS pyramidal,,integer,
fs_cerebellar,edss,text,FS cerebellar,,integer,
fs_hjernestamme,edss,text,FS hjernestamme,,integer,
fs_sensorisk,edss,text,FS sensorisk,,integer,
fs_blaere_tarm,edss,text,FS blære/tarm,,integer,
fs_syn,edss,text,FS syn,,integer,
fs_cerebral,edss,text,FS cerebral,,integer,
ambulation,edss,text,Ambulation,,integer,
blindet_bedoemmer,edss,yesno,Blindet bedømmer,,,
msfc_dato,msfc,text,Dato,,date_dmy,
t25fw_1,msfc,text,T25FW 1,,number_comma_decimal,
t25fw_2,msfc,text,T25FW 2,,number_comma_decimal,
nhpt_dom_1,msfc,text,9HPT dom 1,,number_comma_decimal,
nhpt_dom_2,msfc,text,9HPT dom 2,,number_comma_decimal,
nhpt_ikkedom_1,msfc,text,9HPT ikke-dom 1,,number_comma_decimal,
nhpt_ikkedom_2,msfc,text,9HPT ikke-dom 2,,number_comma_decimal,
pasat3,msfc,text,PASAT-3,,integer,
attak_debut,attak,text,Debut,,,
attak_slut,attak,text,Slut,,,
attak_svaerhed,attak,radio,Sværhed,"1, Let | 2, Moderat | 3, Svær",,
attak_restitution,attak,radio,Restitution,"1, Fuld | 2, Delvis | 3, Ingen",,
attak_behandling,attak,checkbox,Behandling,"1, Methylprednisolon | 2, Andet",,
ae_term,haendelser,notes,Hændelse,,,
meddra_pt,haendelser,text,MedDRA PT,,,
meddra_soc,haendelser,text,MedDRA SOC,,,
meddra_version,haendelser,text,MedDRA-version,,,
ae_debut,haendelser,text,Debut,,,
ae_slut,haendelser,text,Slut,,,
alvorlig,haendelser,yesno,Alvorlig,,,
sae_doed,haendelser,yesno,Død,,,
sae_livstruende,haendelser,yesno,Livstruende,,,
sae_indlaeggelse,haendelser,yesno,Indlæggelse,,,
sae_invaliditet,haendelser,yesno,Invaliditet,,,
sae_misdannelse,haendelser,yesno,Misdannelse,,,
sae_andet,haendelser,yesno,Andet,,,
ctcae_grad,haendelser,text,CTCAE-grad,,integer,
relation_produkt,haendelser,radio,Relation til produkt,"1, Ingen | 2, Usandsynlig | 3, Mulig | \
4, Sandsynlig | 5, Sikker",,
relation_udtagning,haendelser,radio,Relation til udtagning,"1, Ingen | 2, Usandsynlig | \
3, Mulig | 4, Sandsynlig | 5, Sikker",,
ae_udfald,haendelser,radio,Udfald,"1, Restitueret | 2, Under restitution | 3, Ikke restitueret | \
4, Restitueret med følger | 5, Død | 6, Ukendt",,
praeparat,medicin,text,Præparat,,,
atc_kode,medicin,text,ATC-kode,,,
atc_version,medicin,text,ATC-version,,,
med_start,medicin,text,Start,,,
med_slut,medicin,text,Slut,,,
proevedato,blodproever,text,Prøvedato,,date_dmy,
analyse,blodproever,radio,Analyse,"1, P-Kreatinin | 2, B-Hæmoglobin | 3, P-Glukose | 4, P-ALAT | \
5, P-ASAT | 6, B-Lymfocytter | 7, P-Bilirubin",,
resultat,blodproever,text,Resultat,,,
enhed,blodproever,text,Enhed,,,
"""
FORMS = ("demografi", "randomisering", "infusion", "besoeg", "mr", "edss", "msfc", "attak")
FORMS += ("haendelser", "medicin", "blodproever")
SYSTEM = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
SYSTEM += ["redcap_data_access_group"]
# The records of a raw export, field by field; every other column of the header is blank.
DENMARK_RECORDS: Rows = [
    {"record_id": "1", "redcap_event_name": "scr_arm_1", "cpr": "", "foedselsaar": "1984"}
    | {"koen": "0", "ms_forloeb": "1", "diagnosedato": "2009-06-30", "demografi_complete": "2"}
    | {"uge": "-6", "besoegsdato": "2013-01-10", "besoeg_complete": "2"},
    {"record_id": "1", "redcap_event_name": "w0_arm_1", "sekvens": "2", "rand_dato": "2013-02-25"}
    | {"randomisering_complete": "2", "inf_dato": "01-03-2013", "produkt": "2", "vaegt": "61,5"}
    | {"infusion_complete": "2", "uge": "0", "besoegsdato": "01.03.2013", "besoeg_complete": "2"}
    | {"mr_dato": "2013-03-01", "mr_felt": "2", "gd_laesioner": "0", "t2_volumen": "4,75"}
    | {"hjernevolumen": "1523,4", "central_vurdering": "1", "mr_complete": "2"},
    {"record_id": "1", "redcap_event_name": "w0_arm_1", "redcap_repeat_instrument": "blodproever"}
    | {"redcap_repeat_instance": "1", "proevedato": "2013-03-01", "analyse": "2"}
    | {"resultat": "8,6", "enhed": "mmol/l", "blodproever_complete": "2"},
    {"record_id": "1", "redcap_event_name": "lobende_arm_1", "redcap_repeat_instrument": "attak"}
    | {"redcap_repeat_instance": "1", "attak_debut": "04-2014", "attak_svaerhed": "2"}
    | {"attak_behandling___1": "1", "attak_behandling___2": "0", "attak_complete": "2"},
    {"record_id": "1", "redcap_event_name": "lobende_arm_1"}
    | {"redcap_repeat_instrument": "haendelser", "redcap_repeat_instance": "2"}
    | {"ae_term": "hovedpine", "meddra_version": "16.1", "ae_debut": "02.03.2013"}
    | {"alvorlig": "0", "ctcae_grad": "1", "relation_produkt": "3", "ae_udfald": "1"}
    | {"haendelser_complete": "2"},
]


def write_denmark(export: Path) -> None:
    import csv
    import io

    fields = list(csv.reader(io.StringIO(DENMARK_DICTIONARY)))[1:]
    header = list(SYSTEM)
    for form in FORMS:
        for name, f_form, f_type, *_rest in fields:
            if f_form != form or name == "record_id":
                continue
            header += [f"{name}___1", f"{name}___2"] if f_type == "checkbox" else [name]
        header.append(f"{form}_complete")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    for record in DENMARK_RECORDS:  # REDCap writes the data access group on every row
        record = {"redcap_data_access_group": "rigshospitalet", **record}
        writer.writerow([record.get(c, "") for c in header])
    (export / "dictionary.csv").write_text(DENMARK_DICTIONARY, encoding="utf-8")
    (export / "data.csv").write_text(out.getvalue(), encoding="utf-8")


def test_denmark_by_hand(tmp_path: Path) -> None:
    result = ingest_by_hand("denmark", tmp_path, write_denmark)
    (subject,) = pooled(result, "subjects")
    assert (subject["sex"], subject["birth_year"], subject["ms_course"]) == ("F", 1984, "RRMS")
    assert subject["centre"] == "DK-CPH"
    (infusion,) = pooled(result, "infusions")
    assert (infusion["period"], infusion["product"], infusion["body_weight_kg"]) == (
        1,
        "PLACEBO",
        61.5,
    )
    visits = pooled(result, "visits")
    assert [(v["visit_code"], v["visit_date"]) for v in visits] == [
        ("SCR", dt.date(2013, 1, 10)),
        ("W0", dt.date(2013, 3, 1)),
    ]
    (mri,) = pooled(result, "mri")
    assert (mri["field_strength_t"], mri["brain_volume_ml"], mri["central_read"]) == (
        3.0,
        1523.4,
        True,
    )
    (relapse,) = pooled(result, "relapses")
    assert (relapse["onset_date_raw"], relapse["onset_date_precision"]) == ("04-2014", "month")
    assert relapse["steroids"] is True
    (ae,) = pooled(result, "adverse_events")
    assert (ae["ae_number"], ae["relatedness_product"], ae["onset_date"]) == (
        2,
        "POSSIBLE",
        dt.date(2013, 3, 2),
    )
    (lab,) = pooled(result, "labs")
    assert (lab["analyte"], lab["unit"], lab["value"]) == (
        "HGB",
        "g/L",
        pytest.approx(138.57, 1e-3),
    )


# -- Spain: docs/sites/spain.md -------------------------------------------------------------------

SPAIN_GROUPS = {  # item group -> its items (CL_... : a coded item and its code list)
    "IG_DATOS_DEMOGRAFIA": "I_DATOS_SEXO:CL_SEXO I_DATOS_ANIO_NACIMIENTO "
    "I_DATOS_FORMA_EM:CL_FORMA I_DATOS_FECHA_DIAGNOSTICO I_DATOS_CRITERIOS:CL_CRIT",
    "IG_ALEAT_ALEATORIZACION": "I_ALEAT_SECUENCIA:CL_SEC I_ALEAT_FECHA_ALEATORIZACION",
    "IG_INFUS_INFUSION": "I_INFUS_PERIODO I_INFUS_FECHA_INFUSION I_INFUS_PRODUCTO:CL_PROD "
    "I_INFUS_DOSIS I_INFUS_PESO I_INFUS_VIABILIDAD I_INFUS_LOTE",
    "IG_VISIT_VISITA": "I_VISIT_SEMANA I_VISIT_FECHA_VISITA",
    "IG_RESON_RM": "I_RESON_FECHA_RM I_RESON_CAMPO_TESLA I_RESON_LESIONES_GD "
    "I_RESON_LESIONES_T2_NUEVAS I_RESON_LESIONES_CUA I_RESON_VOLUMEN_T2 "
    "I_RESON_VOLUMEN_CEREBRAL I_RESON_LECTURA_CENTRAL:CL_SINO",
    "IG_EDSS_EDSS": "I_EDSS_FECHA_EVALUACION I_EDSS_EDSS I_EDSS_FS_PIRAMIDAL "
    "I_EDSS_FS_CEREBELOSO I_EDSS_FS_TRONCO I_EDSS_FS_SENSITIVO I_EDSS_FS_ESFINTERES "
    "I_EDSS_FS_VISUAL I_EDSS_FS_CEREBRAL I_EDSS_DEAMBULACION I_EDSS_EVALUADOR_CIEGO:CL_SINO",
    "IG_MSFC_MSFC": "I_MSFC_FECHA_EVALUACION I_MSFC_T25FW_1 I_MSFC_T25FW_2 I_MSFC_9HPT_DOM_1 "
    "I_MSFC_9HPT_DOM_2 I_MSFC_9HPT_NODOM_1 I_MSFC_9HPT_NODOM_2 I_MSFC_PASAT3",
    "IG_BROTE_BROTES": "I_BROTE_FECHA_INICIO I_BROTE_FECHA_FIN I_BROTE_GRAVEDAD:CL_GRAV "
    "I_BROTE_RECUPERACION:CL_RECUP I_BROTE_CORTICOIDES:CL_SINO",
    "IG_ACONT_AA": "I_ACONT_NUMERO I_ACONT_TERMINO I_ACONT_MEDDRA_PT I_ACONT_MEDDRA_SOC "
    "I_ACONT_VERSION_MEDDRA I_ACONT_FECHA_INICIO I_ACONT_FECHA_FIN I_ACONT_GRAVE:CL_SINO "
    "I_ACONT_GRAVE_MUERTE:CL_SINO I_ACONT_GRAVE_RIESGO_VITAL:CL_SINO "
    "I_ACONT_GRAVE_HOSPITALIZACION:CL_SINO I_ACONT_GRAVE_DISCAPACIDAD:CL_SINO "
    "I_ACONT_GRAVE_ANOMALIA_CONG:CL_SINO I_ACONT_GRAVE_OTRA:CL_SINO I_ACONT_GRADO_CTCAE "
    "I_ACONT_RELACION_PRODUCTO:CL_REL I_ACONT_RELACION_EXTRACCION:CL_REL "
    "I_ACONT_DESENLACE:CL_DES",
    "IG_MEDIC_MEDCONCOMITANTE": "I_MEDIC_MEDICAMENTO I_MEDIC_CODIGO_ATC I_MEDIC_VERSION_ATC "
    "I_MEDIC_FECHA_INICIO I_MEDIC_FECHA_FIN",
    "IG_ANALI_ANALITICA": "I_ANALI_FECHA_EXTRACCION I_ANALI_PRUEBA:CL_PRUEBA "
    "I_ANALI_RESULTADO I_ANALI_UNIDAD",
}
SPAIN_CODELISTS = {
    "CL_SEXO": "1=Mujer|2=Hombre",
    "CL_FORMA": "1=Remitente-recurrente (EMRR)|2=Secundaria progresiva (EMSP)|"
    "3=Primaria progresiva (EMPP)",
    "CL_CRIT": "1=Protocolo original (2013)|2=Enmienda 2016",
    "CL_SEC": "1=Células madre - placebo|2=Placebo - células madre",
    "CL_PROD": "1=Células madre mesenquimales|2=Placebo",
    "CL_SINO": "1=Sí|0=No",
    "CL_GRAV": "1=Leve|2=Moderado|3=Grave",
    "CL_RECUP": "1=Completa|2=Parcial|3=Ninguna",
    "CL_REL": "1=No relacionado|2=Improbable|3=Posible|4=Probable|5=Definitiva",
    "CL_DES": "1=Recuperado/resuelto|2=En recuperación|3=No recuperado|"
    "4=Recuperado con secuelas|5=Mortal|6=Desconocido",
    "CL_PRUEBA": "1=Creatinina|2=Hemoglobina|3=Glucosa|4=ALT (GPT)|5=AST (GOT)|6=Linfocitos|"
    "7=Bilirrubina total",
}
SPAIN_DATA = """\
<ClinicalData StudyOID="S_HUVH" MetaDataVersionOID="v1.0.0">
 <SubjectData SubjectKey="SS_ES001" OpenClinica:StudySubjectID="es-bcn-001"
   OpenClinica:UniqueIdentifier="" OpenClinica:Status="available">
  <StudyEventData StudyEventOID="SE_SELECCION">
   <FormData FormOID="F_DATOS">
    <ItemGroupData ItemGroupOID="IG_DATOS_DEMOGRAFIA" ItemGroupRepeatKey="1">
     <ItemData ItemOID="I_DATOS_SEXO" Value="1"/>
     <ItemData ItemOID="I_DATOS_ANIO_NACIMIENTO" Value="1979"/>
     <ItemData ItemOID="I_DATOS_FORMA_EM" Value="1"/>
     <ItemData ItemOID="I_DATOS_FECHA_DIAGNOSTICO" Value="3/9/98"/>
     <ItemData ItemOID="I_DATOS_CRITERIOS" Value="2"/>
    </ItemGroupData>
    <ItemGroupData ItemGroupOID="IG_ALEAT_ALEATORIZACION" ItemGroupRepeatKey="1">
     <ItemData ItemOID="I_ALEAT_SECUENCIA" Value="1"/>
     <ItemData ItemOID="I_ALEAT_FECHA_ALEATORIZACION" Value="2016-10-03"/>
    </ItemGroupData>
   </FormData>
  </StudyEventData>
  <StudyEventData StudyEventOID="SE_BASAL">
   <FormData FormOID="F_VISITA">
    <ItemGroupData ItemGroupOID="IG_VISIT_VISITA" ItemGroupRepeatKey="1">
     <ItemData ItemOID="I_VISIT_SEMANA" Value="0"/>
     <ItemData ItemOID="I_VISIT_FECHA_VISITA" Value="10/10/16"/>
    </ItemGroupData>
    <ItemGroupData ItemGroupOID="IG_RESON_RM" ItemGroupRepeatKey="1">
     <ItemData ItemOID="I_RESON_FECHA_RM" Value="10/10/2016"/>
     <ItemData ItemOID="I_RESON_CAMPO_TESLA" Value="1,5"/>
     <ItemData ItemOID="I_RESON_LESIONES_GD" Value="2"/>
     <ItemData ItemOID="I_RESON_VOLUMEN_CEREBRAL" Value="1.498,5"/>
     <ItemData ItemOID="I_RESON_LECTURA_CENTRAL" Value="1"/>
    </ItemGroupData>
    <ItemGroupData ItemGroupOID="IG_ANALI_ANALITICA" ItemGroupRepeatKey="1">
     <ItemData ItemOID="I_ANALI_FECHA_EXTRACCION" Value="10/10/16"/>
     <ItemData ItemOID="I_ANALI_PRUEBA" Value="1"/>
     <ItemData ItemOID="I_ANALI_RESULTADO" Value="0,8"/>
     <ItemData ItemOID="I_ANALI_UNIDAD" Value="mg/dL"/>
    </ItemGroupData>
   </FormData>
  </StudyEventData>
  <StudyEventData StudyEventOID="SE_REGISTRO">
   <FormData FormOID="F_INFUSION">
    <ItemGroupData ItemGroupOID="IG_INFUS_INFUSION" ItemGroupRepeatKey="1">
     <ItemData ItemOID="I_INFUS_PERIODO" Value="1"/>
     <ItemData ItemOID="I_INFUS_FECHA_INFUSION" Value="2016-10-10"/>
     <ItemData ItemOID="I_INFUS_PRODUCTO" Value="1"/>
     <ItemData ItemOID="I_INFUS_DOSIS" Value="1,7"/>
     <ItemData ItemOID="I_INFUS_PESO" Value="72,4"/>
     <ItemData ItemOID="I_INFUS_VIABILIDAD" Value="93,5"/>
     <ItemData ItemOID="I_INFUS_LOTE" Value="es-l-09"/>
    </ItemGroupData>
   </FormData>
   <FormData FormOID="F_BROTES">
    <ItemGroupData ItemGroupOID="IG_BROTE_BROTES" ItemGroupRepeatKey="1">
     <ItemData ItemOID="I_BROTE_FECHA_INICIO" Value="2/2017"/>
     <ItemData ItemOID="I_BROTE_GRAVEDAD" Value="3"/>
     <ItemData ItemOID="I_BROTE_CORTICOIDES" Value="1"/>
    </ItemGroupData>
   </FormData>
   <FormData FormOID="F_MEDIC">
    <ItemGroupData ItemGroupOID="IG_MEDIC_MEDCONCOMITANTE" ItemGroupRepeatKey="1">
     <ItemData ItemOID="I_MEDIC_MEDICAMENTO" Value="Copaxone (acetato de glatirámero) "/>
     <ItemData ItemOID="I_MEDIC_CODIGO_ATC" Value="l03ax13"/>
     <ItemData ItemOID="I_MEDIC_FECHA_INICIO" Value="1/6/99"/>
    </ItemGroupData>
   </FormData>
  </StudyEventData>
 </SubjectData>
</ClinicalData>
"""


def write_spain(export: Path) -> None:
    meta = ['<MetaDataVersion OID="v1.0.0" Name="v1">']
    for group, items in SPAIN_GROUPS.items():
        refs = "".join(f'<ItemRef ItemOID="{i.split(":")[0]}"/>' for i in items.split())
        meta.append(
            f'<ItemGroupDef OID="{group}" Name="{group}" Repeating="Yes">{refs}</ItemGroupDef>'
        )
    for items in SPAIN_GROUPS.values():
        for item in items.split():
            oid, _, codelist = item.partition(":")
            ref = f'<CodeListRef CodeListOID="{codelist}"/>' if codelist else ""
            meta.append(f'<ItemDef OID="{oid}" Name="{oid}" DataType="text">{ref}</ItemDef>')
    for oid, entries in SPAIN_CODELISTS.items():
        meta.append(f'<CodeList OID="{oid}" Name="{oid}" DataType="integer">')
        for entry in entries.split("|"):
            code, _, text = entry.partition("=")
            meta.append(
                f'<CodeListItem CodedValue="{code}"><Decode><TranslatedText xml:lang="es">'
                f"{text}</TranslatedText></Decode></CodeListItem>"
            )
        meta.append("</CodeList>")
    meta.append("</MetaDataVersion>")
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" '
        'xmlns:OpenClinica="http://www.openclinica.org/ns/odm_ext_v130/v3.1" '
        'FileType="Snapshot" FileOID="f1" ODMVersion="1.3" '
        'CreationDateTime="2020-01-01T00:00:00">\n'
        '<Study OID="S_MESEMSES">' + "\n".join(meta) + "</Study>\n" + SPAIN_DATA + "</ODM>\n"
    )
    (export / "MESEMS_ES_odm1.3_fullExtract.xml").write_text(xml, encoding="utf-8")


def test_spain_by_hand(tmp_path: Path) -> None:
    result = ingest_by_hand("spain", tmp_path, write_spain)
    (subject,) = pooled(result, "subjects")
    assert (subject["centre"], subject["sex"], subject["eligibility_version"]) == (
        "ES-BCN",
        "F",
        "ES-2016",
    )
    assert subject["diagnosis_date"] == dt.date(1998, 9, 3)  # "3/9/98": a history date
    (visit,) = pooled(result, "visits")
    assert (visit["visit_code"], visit["visit_date"]) == ("W0", dt.date(2016, 10, 10))
    (mri,) = pooled(result, "mri")
    assert (mri["field_strength_t"], mri["brain_volume_ml"], mri["central_read"]) == (
        1.5,
        1498.5,
        True,
    )
    (infusion,) = pooled(result, "infusions")
    assert (infusion["dose_million_cells_per_kg"], infusion["lot_id"]) == (1.7, "ES-L-09")
    (relapse,) = pooled(result, "relapses")
    assert (relapse["onset_date"], relapse["onset_date_precision"]) == (
        dt.date(2017, 2, 1),
        "month",
    )
    (med,) = pooled(result, "conmeds")
    assert med["medication_verbatim"] == "Copaxone (acetato de glatirámero) "  # as written
    assert (med["start_date"], med["atc_code"]) == (dt.date(1999, 6, 1), "L03AX13")
    (lab,) = pooled(result, "labs")
    assert (lab["analyte"], lab["value_reported"], lab["value"]) == (
        "CREAT",
        0.8,
        pytest.approx(70.72),
    )


# -- France: docs/sites/france.md -----------------------------------------------------------------

S = "MESEMS-FR"
FRANCE: dict[str, Rows] = {
    "dm": [
        {"STUDYID": S, "DOMAIN": "DM", "USUBJID": "FR-01-001", "SITEID": "01", "SEX": "F"}
        | {"BRTHDTC": "1982", "ARMCD": "PBO-MSC", "RFSTDTC": "2014-01-16T09:30"},
        {"STUDYID": S, "DOMAIN": "DM", "USUBJID": "FR-01-002", "SITEID": "01", "SEX": "M"}
        | {"BRTHDTC": "1979", "ARMCD": "SCRNFAIL", "RFSTDTC": ""},  # a screen failure: skipped
    ],
    "suppdm": [
        {"STUDYID": S, "RDOMAIN": "DM", "USUBJID": "FR-01-001", "IDVAR": "", "IDVARVAL": ""}
        | {"QNAM": q, "QLABEL": q, "QVAL": v}
        for q, v in (("MSTYPE", "RR"), ("MSDIAGDT", "2009-11-04"), ("NIR", ""))
    ],
    "ex": [
        {"STUDYID": S, "DOMAIN": "EX", "USUBJID": "FR-01-001", "EXSEQ": 1.0, "EXTRT": "PLACEBO"}
        | {"EXDOSE": None, "EPOCH": "TREATMENT 1", "EXSTDTC": "2014-01-20", "EXLOT": ""},
    ],
    "suppex": [
        {"STUDYID": S, "RDOMAIN": "EX", "USUBJID": "FR-01-001", "IDVAR": "EXSEQ"}
        | {"IDVARVAL": "1", "QNAM": "WEIGHT", "QLABEL": "Poids", "QVAL": "58.5"},
    ],
    "sv": [
        {"STUDYID": S, "DOMAIN": "SV", "USUBJID": "FR-01-001", "VISIT": "SEMAINE 0"}
        | {"VISITDY": 1.0, "SVSTDTC": "2014-01-20"},
        {"STUDYID": S, "DOMAIN": "SV", "USUBJID": "FR-01-001", "VISIT": "VISITE NON PROGRAMMEE"}
        | {"VISITDY": None, "SVSTDTC": "2014-03-02"},
    ],
    "mo": [
        {"STUDYID": S, "DOMAIN": "MO", "USUBJID": "FR-01-001", "MOSEQ": n, "MOGRPID": "IRM1"}
        | {"MOTESTCD": t, "MOORRES": o, "MOSTRESN": v, "MOEVAL": "INDEPENDENT ASSESSOR"}
        | {"VISIT": "SEMAINE 0", "MODTC": "2014-01-20"}
        for n, t, o, v in (
            (1.0, "GDLESNUM", "3", 3.0),
            (2.0, "BRAINVOL", "1502.3", 1502.3),
            (3.0, "CORTLES", "1", 1.0),  # another morphology finding: skipped
        )
    ],
    "suppmo": [
        {"STUDYID": S, "RDOMAIN": "MO", "USUBJID": "FR-01-001", "IDVAR": "MOGRPID"}
        | {"IDVARVAL": "IRM1", "QNAM": "MRIFS", "QLABEL": "Champ (T)", "QVAL": "3"},
    ],
    "ae": [
        {"STUDYID": S, "DOMAIN": "AE", "USUBJID": "FR-01-001", "AESEQ": 1.0}
        | {"AETERM": "céphalée", "AEPTCD": 10019211.0, "AESOCCD": 10029205.0}
        | {"AESTDTC": "2014-02", "AEENDTC": "", "AESER": "N", "AETOXGR": "1"}
        | {"AEREL": "POSSIBLY RELATED", "AEOUT": "RECOVERED/RESOLVED"},
    ],
    "cm": [
        {"STUDYID": S, "DOMAIN": "CM", "USUBJID": "FR-01-001", "CMSEQ": 1.0}
        | {"CMTRT": "AVONEX", "CMCLASCD": "L03AB07", "CMSTDTC": "2010", "CMENDTC": "2013-12"},
    ],
}


def write_france(export: Path) -> None:
    import polars as pl
    import pyreadstat

    for name, rows in FRANCE.items():
        names = list(dict.fromkeys(k for r in rows for k in r))
        columns = {}
        for n in names:
            values = [r.get(n) for r in rows]
            if any(isinstance(v, float) for v in values):
                columns[n] = pl.Series(n, values, dtype=pl.Float64)
            else:
                columns[n] = pl.Series(n, [v or "" for v in values], dtype=pl.Utf8)
        frame = pl.DataFrame(columns)
        pyreadstat.write_xport(
            frame, str(export / f"{name}.xpt"), table_name=name.upper(), file_format_version=5
        )


def test_france_by_hand(tmp_path: Path) -> None:
    result = ingest_by_hand("france", tmp_path, write_france)
    (subject,) = pooled(result, "subjects")
    assert (subject["centre"], subject["birth_year"], subject["ms_course"]) == (
        "FR-PAR",
        1982,
        "RRMS",
    )
    assert subject["diagnosis_date"] == dt.date(2009, 11, 4)
    (randomised,) = pooled(result, "randomisation")
    assert (randomised["sequence"], randomised["randomisation_date"]) == (
        "PLACEBO_MSC",
        dt.date(2014, 1, 16),  # an ISO date with a time: the date
    )
    (infusion,) = pooled(result, "infusions")
    assert (infusion["period"], infusion["body_weight_kg"]) == (1, 58.5)
    visits = pooled(result, "visits")
    assert [(v["visit_code"], v["week"]) for v in visits] == [("W0", 0), ("UNS", None)]
    (mri,) = pooled(result, "mri")
    assert (mri["source_row"], mri["gel_count"], mri["brain_volume_ml"]) == (1, 3, 1502.3)
    assert (mri["field_strength_t"], mri["central_read"]) == (3.0, True)
    (ae,) = pooled(result, "adverse_events")
    assert (ae["meddra_pt_code"], ae["onset_date_precision"], ae["ctcae_grade"]) == (
        "10019211",
        "month",
        1,
    )
    dm = next(s for s in result.manifest["sources"] if s["table"] == "subjects")
    assert dm["rows_skipped"] == 1  # the screen failure, with its reason
