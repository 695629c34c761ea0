"""Write a site's export as an OpenClinica 3.x CDISC ODM 1.3 full extract: one XML file holding
every table map, each table map's item group (``TableMap.part``) one table.

Nested as OpenClinica nests it: the parent study's metadata (events, forms, item groups, items,
code lists) and one site-level study per centre, then ClinicalData per site-level study >
SubjectData per patient > StudyEventData per visit > FormData per form > ItemGroupData per row.
A rendered column is placed by its name:

* ``StudyOID`` (per patient, from the subjects map) picks the ClinicalData; ``StudyEventOID``
  the event. The unscheduled visit's event repeats, one instance per date.
* ``prefix:Name`` (the local id, the identifying attributes the adapter drops) is a SubjectData
  attribute; the audit log repeats the dropped ones, as OpenClinica logs their corrections.
* ``ITEM@decode`` is written as the code of that label in a code list the metadata declares
  (case ignored, as the adapter matches it); any other column is an ItemData value.

Tables that name no visit are filed where an OpenClinica study keeps them: demographics at
screening, randomisation at baseline, infusions at baseline or week 24 by period, the logs
(relapses, adverse events, medication) in one Common event. Dates typed into text items in a
day-first format are written without leading zeros (d/m/yy), the Spanish habit; partial-date
items keep theirs (the CRF masks them as dd/mm/aa), as the truth records them.

The reader numbers a row by its item group's occurrence in the file (1, 2, ...): the writer
returns that number per truth row as the provenance. The file is written subject by subject.

Its parts: ``study_odm`` gathers what the file holds from the rendered table maps,
``metadata_odm`` writes the study definitions, ``clinical_odm`` the clinical data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from federate.adapters.declaration import SiteAdapter
from federate.synth.clinical_odm import Occurrences, clinical_data
from federate.synth.metadata_odm import study_definitions
from federate.synth.study_odm import Study
from federate.synth.xml_odm import attr

if TYPE_CHECKING:
    from federate.synth.writers import RenderedMap, Written

ODM_NS = "http://www.cdisc.org/ns/odm/v1.3"
VENDOR_NS = {
    "OpenClinica": "http://www.openclinica.org/ns/odm_ext_v130/v3.1",
    "OpenClinicaRules": "http://www.openclinica.org/ns/rules/v3.1",
}


def write_odm_export(adapter: SiteAdapter, rendered: list[RenderedMap], folder: Path) -> Written:
    from federate.synth.writers import Written  # writers registers this module: import late

    files = {r.tm.file for r in rendered}
    parts = [(r.tm.part or "").upper() for r in rendered]
    if len(files) != 1 or len(set(parts)) != len(parts):
        raise ValueError("an ODM export is one file with one item group per table map")
    study = Study(adapter, rendered)
    path = folder / files.pop()
    path.parent.mkdir(parents=True, exist_ok=True)
    last = max(
        (e.start for s in study.subjects.values() for e in s.events.values() if e.start),
        default=dt.date(2020, 1, 1),
    )
    created = (last + dt.timedelta(days=30)).isoformat()
    sites = study.studies()
    occurrences = Occurrences({g: [0] * r.truth.num_rows for g, r in enumerate(rendered)})
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        namespaces = "".join(attr(f"xmlns:{p}", uri) for p, uri in VENDOR_NS.items())
        fh.write(
            f'<ODM xmlns="{ODM_NS}"{namespaces}'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            f' FileOID="Extract_All_DataD{created.replace("-", "")}080000+0000"'
            ' Description="Extract all data in the study"'
            f' CreationDateTime="{created}T08:00:00+00:00" FileType="Snapshot" ODMVersion="1.3"'
            f' xsi:schemaLocation="{ODM_NS} OpenClinica-ODM1-3-0-OC2-0.xsd">\n'
        )
        fh.writelines(study_definitions(study, sites))
        fh.writelines(clinical_data(study, sites, occurrences))
        fh.write("</ODM>\n")
    provenance = {
        r.tm.table: (
            pa.repeat(pa.scalar(r.tm.file, pa.string()), r.truth.num_rows),
            pa.array(occurrences.rows[g], pa.int64()),
        )
        for g, r in enumerate(rendered)
    }
    return Written([path], provenance)
