"""The named analyses, as data: for each, its parts (one SQL file each), how each table is
released (federate.query.disclosure: keys, counts, statistics, margins) and what it can draw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from federate.analyses import estimates, stats
from federate.query.disclosure import Margin, Rule

SCOPE = Margin("scope", "pooled")  # the pooled row is the sum of the sites
ARM = Margin("arm", "ALL")  # the 'ALL' row is the sum of the arms (where it is)


@dataclass(frozen=True)
class Part:
    name: str
    title: str  # says nothing about arms: the blinded role sees it too
    sql_file: str
    rule: Rule
    follows: str | None = None  # released only where that part's rows of the scope are
    compute: Callable[[pa.Table], pa.Table] | None = None  # statistics SQL cannot do
    unblinded_only: bool = False
    exposed: str | None = None  # 'arm' or 'all': n_exposed and pct from part 'exposure'

    @property
    def by_arm(self) -> bool:
        return "arm" in self.rule.keys


@dataclass(frozen=True)
class Analysis:
    name: str
    title: str
    description: str
    reads: tuple[str, ...]  # shared tables used
    parts: tuple[Part, ...]
    listing: str | None = None  # SQL of the row-level listing (--role unblinded --rows)
    plot: bool = False  # --plot draws its figure (federate.analyses.plots)


def _rule(keys: str, counts: str, values: str = "", *margins: Margin) -> Rule:
    counts_ = tuple(counts.split())
    return Rule(tuple(keys.split()), counts_[0], counts_, tuple(values.split()), margins)


MODEL = Rule(("scope",), "", ())  # a model's estimates follow the descriptive part

ANALYSES: tuple[Analysis, ...] = (
    Analysis(
        name="primary-endpoint",
        title="Primary efficacy endpoint: total GEL at weeks 4, 12 and 24",
        description=(
            "Total gadolinium-enhancing lesions over the W4/W12/W24 scans (period 1) by arm as "
            "randomised; the rate ratio from a negative binomial (NB2) model with log(scans) "
            "offset, baseline GEL and site; cumulative GEL by visit; and the within-patient "
            "crossover comparison of W28/W36/W48 against W4/W12/W24."
        ),
        reads=("randomisation", "mri"),
        parts=(
            Part(
                "period1",
                "Total GEL over weeks 4, 12 and 24 (period 1)",
                "primary_endpoint.sql",
                _rule(
                    "scope arm",
                    "patients scans total_gel",
                    "mean_gel_per_patient sd_gel_per_patient median_gel_per_patient gel_per_scan",
                    SCOPE,
                    ARM,
                ),
            ),
            Part(
                "model",
                "GEL rate ratio, MSC vs placebo: negative binomial (NB2), offset log(scans), "
                "baseline GEL and site (pooled) as covariates",
                "primary_endpoint_patients.sql",
                MODEL,
                follows="period1",
                compute=stats.nb2_rate_ratio,
                unblinded_only=True,
            ),
            Part(
                "cumulative",
                "Mean cumulative GEL per patient by visit (period 1)",
                "primary_endpoint_cumulative.sql",
                _rule(
                    "scope arm visit_code week",
                    "patients",
                    "mean sd ci_low ci_high",
                    SCOPE,
                    ARM,
                ),
                compute=estimates.mean_ci,
            ),
            Part(
                "crossover",
                "Crossover: GEL over weeks 28, 36 and 48 against weeks 4, 12 and 24",
                "crossover.sql",
                _rule(
                    "scope arm",
                    "patients scans_period1 gel_period1 scans_period2 gel_period2",
                    "gel_per_scan_period1 gel_per_scan_period2 mean_change_gel_per_scan",
                    SCOPE,
                    ARM,
                ),
            ),
            Part(
                "crossover_model",
                "Crossover: within-patient GEL rate ratio, MSC vs placebo (conditional on the "
                "patient's total, period effect, log scan ratio offset)",
                "crossover_patients.sql",
                MODEL,
                follows="crossover",
                compute=stats.crossover_rate_ratio,
                unblinded_only=True,
            ),
        ),
        listing="primary_endpoint_patients.sql",
        plot=True,
    ),
    Analysis(
        name="safety",
        title="Safety: adverse events",
        description=(
            "Patients with at least one adverse event, and events, by treatment at onset, "
            "MedDRA system organ class, seriousness and CTCAE grade; events before the first "
            "infusion; patients exposed. "
            "Rows: the serious adverse events."
        ),
        reads=("adverse_events", "infusions", "visits", "randomisation"),
        parts=(
            Part(
                "events",
                "Treatment-emergent adverse events",
                "safety.sql",
                _rule(
                    "scope arm breakdown category",
                    "patients events",
                    "",
                    SCOPE,
                    ARM,
                    Margin("category", "any adverse event", within="breakdown"),
                ),
                exposed="arm",
            ),
            Part(
                "pretreatment",
                "Adverse events before the first infusion",
                "safety_pretreatment.sql",
                _rule(
                    "scope breakdown category",
                    "patients events",
                    "",
                    SCOPE,
                    Margin("category", "any adverse event", within="breakdown"),
                ),
                exposed="all",
            ),
            Part(
                "exposure",
                "Patients exposed",
                "safety_exposure.sql",
                _rule("scope arm", "patients", "", SCOPE, ARM),
                exposed="all",
            ),
        ),
        listing="safety_listing.sql",
    ),
    Analysis(
        name="baseline",
        title="Baseline characteristics (Table 1)",
        description=(
            "Age, sex, MS course, disease duration, EDSS and GEL at baseline, by randomised "
            "sequence."
        ),
        reads=("subjects", "randomisation", "edss", "mri"),
        parts=(
            Part(
                "table1",
                "Baseline characteristics",
                "baseline.sql",
                _rule(
                    "scope arm variable level",
                    "patients",
                    "percent mean sd median q1 q3",
                    SCOPE,
                    ARM,
                    Margin("level", "randomised", within="variable"),
                ),
            ),
        ),
    ),
    Analysis(
        name="disability",
        title="Disability: EDSS and MSFC change from baseline",
        description=(
            "EDSS and MSFC z-score, and change from baseline, by randomised sequence and visit."
        ),
        reads=("edss", "msfc", "randomisation"),
        parts=(
            Part(
                "change",
                "EDSS and MSFC z-score by visit, change from baseline",
                "disability.sql",
                _rule(
                    "scope arm measure visit_code week",
                    "patients",
                    "mean_baseline mean_value sd_value mean_change sd_change median_change",
                    SCOPE,
                    ARM,
                ),
            ),
        ),
        plot=True,
    ),
    Analysis(
        name="relapses",
        title="Relapses: annualised relapse rate",
        description=(
            "Annualised relapse rate with exact Poisson 95% CI, by period and product given."
        ),
        reads=("relapses", "infusions", "visits", "randomisation"),
        parts=(
            Part(
                "rate",
                "Annualised relapse rate by period",
                "relapses.sql",
                _rule(
                    "scope arm period",
                    "patients relapses",
                    "patient_years annualised_rate ci_low ci_high",
                    SCOPE,
                    ARM,
                    Margin("period", "both"),
                ),
                compute=lambda t: stats.poisson_ci(t, "relapses", "patient_years"),
            ),
        ),
    ),
    Analysis(
        name="completeness",
        title="Data completeness per site and visit",
        description=(
            "Per site and visit: subjects expected, assessments present (visit, MRI, EDSS, "
            "MSFC, labs) by the protocol schedule; per site and table: rows quarantined."
        ),
        reads=("subjects", "visits", "mri", "edss", "msfc", "labs"),
        parts=(
            Part(
                "visits",
                "Assessments present per site and visit",
                "completeness.sql",
                _rule(
                    "scope visit_code week assessment",
                    "expected present",
                    "percent_present",
                    SCOPE,
                ),
            ),
            Part(
                "intake",
                "Rows read, pooled and quarantined per site and table",
                "completeness_intake.sql",
                _rule(
                    "scope table_name",
                    "rows_read rows_mapped rows_quarantined rows_parent_quarantined rows_skipped",
                    "",
                    SCOPE,
                ),
            ),
        ),
        plot=True,
    ),
)
