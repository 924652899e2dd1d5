//! Reports for the steering group, in JSON, CSV or an Excel workbook, by the `Accept`
//! header. Figures are aggregated in the database; outreach workers get their own unit's,
//! police liaisons the cooperation report only, coordinators everything.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use faltlogg_domain::access::field_unit;
use faltlogg_domain::audit::Action;
use faltlogg_domain::codes::Coded;
use faltlogg_domain::encounter::{AgeGroup, Gender, PersonRole};
use faltlogg_domain::municipality::{Home, MunicipalityCode};
use faltlogg_domain::notification::NotificationStatus;
use faltlogg_domain::report::{
    CooperationFigures, HomeGroup, Period, RoleFigures, cooperation_text_sv,
};
use faltlogg_domain::shift::ShiftKind;
use faltlogg_domain::time::stockholm_date;
use faltlogg_domain::unit::ReferralTarget;
use faltlogg_persistence::accounts::Principal;
use faltlogg_persistence::reference;
use faltlogg_persistence::reports::{self, Units};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Auth, Policy, ShiftReaders};
use crate::error::{ApiError, Problem};
use crate::extract::Query;
use crate::startup::AppState;
use crate::table::{Format, Table, XLSX, format_of};

/// Outreach workers (their unit's figures) and coordinators (all).
pub struct UnitReportReaders;
impl Policy for UnitReportReaders {
    const ROLES: &'static [faltlogg_domain::account::Role] = &[
        faltlogg_domain::account::Role::OutreachWorker,
        faltlogg_domain::account::Role::Coordinator,
    ];
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// First day, `YYYY-MM-DD` (Europe/Stockholm), inclusive.
    #[param(format = Date, example = "2025-01-01")]
    pub from: Option<String>,
    /// Last day, inclusive; at most ten years after `from`.
    #[param(format = Date, example = "2025-12-31")]
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PeriodView {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

fn period_of(query: &PeriodQuery) -> Result<Period, ApiError> {
    Ok(Period::parse(query.from.as_deref(), query.to.as_deref())?)
}

fn units_of(principal: &Principal) -> Units {
    field_unit(&principal.assignment).map_or(Units::All, Units::One)
}

/// Answers a report in the format asked for; `table` lays it out for CSV and Excel.
fn answer<V: Serialize>(
    req: &HttpRequest,
    name: &str,
    period: &Period,
    view: &V,
    table: impl FnOnce(&V) -> Table,
) -> Result<HttpResponse, ApiError> {
    let file = format!("{name}-{}-{}", period.from(), period.to());
    let attachment = |extension: &str| {
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}.{extension}\""),
        )
    };
    Ok(match format_of(req) {
        Format::Json => HttpResponse::Ok().json(view),
        Format::Csv => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header(attachment("csv"))
            .body(table(view).to_csv()),
        Format::Xlsx => HttpResponse::Ok()
            .content_type(XLSX)
            .insert_header(attachment("xlsx"))
            .body(table(view).to_xlsx(name).map_err(ApiError::internal)?),
    })
}

#[derive(Serialize, ToSchema)]
pub struct ShiftsWithPolice {
    pub total: u64,
    /// Every kind, zero included.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub by_kind: BTreeMap<&'static str, u64>,
}

#[derive(Serialize, ToSchema)]
pub struct RoleFiguresView {
    /// Meetings: a person met twice counts twice, as the source document counts.
    pub encounters: u64,
    pub under_18: u64,
    pub support_offered: u64,
    /// Meetings linked by one pseudonym within a unit count once. Null when the period
    /// reaches back past retention, which erased the pseudonyms.
    pub distinct_people: Option<u64>,
}

impl RoleFiguresView {
    fn of(f: RoleFigures, erased: bool) -> Self {
        Self {
            encounters: f.encounters,
            under_18: f.under_18,
            support_offered: f.support_offered,
            distinct_people: (!erased).then_some(f.distinct_people),
        }
    }
}

/// When a period reaches back past retention: a note saying which figures are left out.
/// Every count stays the same; only figures that need erased details are null.
fn retention_note(state: &AppState, period: &Period, needs: &str) -> Option<String> {
    let erased_before = stockholm_date(crate::records::now() - state.config.retention);
    (period.from() < erased_before).then(|| {
        format!(
            "Details of meetings before {erased_before} are erased under the retention period, \
             so {needs} cannot be given for this period."
        )
    })
}

#[derive(Serialize, ToSchema)]
pub struct CooperationReport {
    pub period: PeriodView,
    pub shifts_with_police: ShiftsWithPolice,
    pub selling: RoleFiguresView,
    pub buyer: RoleFiguresView,
    /// The paragraph of the yearly follow-up, in Swedish.
    pub text_sv: String,
    /// Present when the period reaches back past retention.
    pub retention_note: Option<String>,
}

/// The follow-up of the cooperation agreement with the police.
#[utoipa::path(get, path = "/api/v1/reports/cooperation", tag = "reports", security(("bearer" = ["outreach_worker", "police_liaison", "coordinator"])),
    description = "Roles: outreach_worker (their unit's figures), police_liaison, coordinator. \
Counts the shifts with police that started in the period and the non-voided encounters of \
those shifts met in it. JSON by default; `Accept: text/csv` gives CSV (measure,value), \
`Accept: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet` an Excel workbook.",
    params(PeriodQuery),
    responses(
        (status = 200, description = "The report", body = CooperationReport,
         example = json!({"period": {"from": "2025-01-01", "to": "2025-12-31"},
            "shifts_with_police": {"total": 201, "by_kind": {"surveillance": 120, "raid": 81, "street_outreach": 0, "venue_outreach": 0, "online_outreach": 0}},
            "selling": {"encounters": 364, "under_18": 18, "support_offered": 364, "distinct_people": 350},
            "buyer": {"encounters": 306, "under_18": 3, "support_offered": 306, "distinct_people": 306},
            "text_sv": "Under perioden 1 januari 2025–31 december 2025 har socialförvaltningens verksamheter genomfört 201 arbetspass tillsammans med polisen i samband med spaning eller tillslag. …"})),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role without reports", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing, unparsable or reversed period, or one longer than ten years", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy with other reports; try again after Retry-After", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn cooperation(
    state: web::Data<AppState>,
    auth: Auth<ShiftReaders>,
    req: HttpRequest,
    query: Result<Query<PeriodQuery>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Query(query) = query?;
    let period = period_of(&query)?;
    let units = units_of(&auth.principal);
    let bounds = period.utc_bounds();
    let (kinds, encounters, pseudonyms) = state
        .audited_report(
            auth.actor
                .entry(Action::Export, "report", Some("cooperation".into())),
            move |conn| {
                reports::begin_report(conn)?;
                Ok((
                    reports::shifts_with_police(conn, bounds, units)?,
                    reports::cooperation_encounters(conn, bounds, units)?,
                    reports::cooperation_pseudonyms(conn, bounds, units)?,
                ))
            },
        )
        .await?;
    let mut by_kind: BTreeMap<&'static str, u64> =
        ShiftKind::all().iter().map(|k| (k.code(), 0)).collect();
    for (kind, n) in &kinds {
        by_kind.insert(kind.code(), *n);
    }
    let figures = CooperationFigures::tally(&kinds, encounters, pseudonyms);
    let note = retention_note(&state, &period, "distinct people");
    let erased = note.is_some();
    let report = CooperationReport {
        period: PeriodView {
            from: period.from(),
            to: period.to(),
        },
        shifts_with_police: ShiftsWithPolice {
            total: kinds.iter().map(|(_, n)| n).sum(),
            by_kind,
        },
        selling: RoleFiguresView::of(figures.selling, erased),
        buyer: RoleFiguresView::of(figures.buyer, erased),
        text_sv: cooperation_text_sv(&period, &figures),
        retention_note: note,
    };
    answer(&req, "samverkan", &period, &report, Table::measures)
}

#[derive(Serialize, ToSchema, Default)]
pub struct GenderCounts {
    pub female: u64,
    pub male: u64,
    pub other: u64,
    pub unknown: u64,
}

#[derive(Serialize, ToSchema, Default)]
pub struct HomeCounts {
    pub stockholm: u64,
    pub other_county_municipality: u64,
    /// Elsewhere in Sweden (Gotland included) and abroad.
    pub outside_county: u64,
    pub unknown: u64,
}

#[derive(Serialize, ToSchema, Default)]
pub struct MinorCounts {
    pub guardian_contacted: u64,
    pub concern_reported: u64,
}

#[derive(Serialize, ToSchema)]
pub struct SugarDatingReport {
    pub period: PeriodView,
    pub contacts: u64,
    pub under_18: u64,
    pub gender: GenderCounts,
    pub age_min: Option<i32>,
    pub age_max: Option<i32>,
    pub home: HomeCounts,
    pub minors: MinorCounts,
    pub support_offered: u64,
    /// Contacts referred to each target, every target listed.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub referrals: BTreeMap<&'static str, u64>,
    /// Present when the period reaches back past retention (ages are then null).
    pub retention_note: Option<String>,
}

/// Ungdomsjouren's sugar-dating contacts.
#[utoipa::path(get, path = "/api/v1/reports/sugar-dating", tag = "reports", security(("bearer" = ["outreach_worker", "coordinator"])),
    description = "Roles: outreach_worker (their unit's figures), coordinator. Non-voided \
`sugar_dating` encounters met in the period. JSON, CSV or Excel by `Accept`.",
    params(PeriodQuery),
    responses(
        (status = 200, description = "The report", body = SugarDatingReport,
         example = json!({"period": {"from": "2025-01-01", "to": "2025-12-31"}, "contacts": 42, "under_18": 9,
            "gender": {"female": 35, "male": 6, "other": 1, "unknown": 0}, "age_min": 14, "age_max": 24,
            "home": {"stockholm": 20, "other_county_municipality": 15, "outside_county": 5, "unknown": 2},
            "minors": {"guardian_contacted": 9, "concern_reported": 9}, "support_offered": 40,
            "referrals": {"stodcentrum": 7, "regionkoordinator_barn": 3}})),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role without this report", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing, unparsable or reversed period, or one longer than ten years", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy with other reports; try again after Retry-After", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn sugar_dating(
    state: web::Data<AppState>,
    auth: Auth<UnitReportReaders>,
    req: HttpRequest,
    query: Result<Query<PeriodQuery>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Query(query) = query?;
    let period = period_of(&query)?;
    let units = units_of(&auth.principal);
    let bounds = period.utc_bounds();
    let contacts = state
        .audited_report(
            auth.actor
                .entry(Action::Export, "report", Some("sugar-dating".into())),
            move |conn| {
                reports::begin_report(conn)?;
                Ok(reports::sugar_dating_contacts(conn, bounds, units)?)
            },
        )
        .await?;
    let note = retention_note(&state, &period, "the age range");
    let (age_min, age_max) = if note.is_some() {
        (None, None)
    } else {
        (
            contacts.iter().filter_map(|g| g.youngest).min(),
            contacts.iter().filter_map(|g| g.oldest).max(),
        )
    };
    let mut report = SugarDatingReport {
        period: PeriodView {
            from: period.from(),
            to: period.to(),
        },
        contacts: 0,
        under_18: 0,
        gender: GenderCounts::default(),
        age_min,
        age_max,
        home: HomeCounts::default(),
        minors: MinorCounts::default(),
        support_offered: 0,
        referrals: ReferralTarget::all()
            .iter()
            .map(|t| (t.code(), 0))
            .collect(),
        retention_note: note,
    };
    for group in contacts {
        let n = group.contacts;
        report.contacts += n;
        report.minors.guardian_contacted += group.guardians_contacted;
        report.minors.concern_reported += group.concern_reported;
        if group.age_group == AgeGroup::Under18 {
            report.under_18 += n;
        }
        if group.support_offered {
            report.support_offered += n;
        }
        *match group.gender {
            Gender::Female => &mut report.gender.female,
            Gender::Male => &mut report.gender.male,
            Gender::Other => &mut report.gender.other,
            Gender::Unknown => &mut report.gender.unknown,
        } += n;
        let home = Home::parse(&group.home, None).map_or(HomeGroup::Unknown, |h| HomeGroup::of(&h));
        *match home {
            HomeGroup::Stockholm => &mut report.home.stockholm,
            HomeGroup::OtherCountyMunicipality => &mut report.home.other_county_municipality,
            HomeGroup::OutsideCounty => &mut report.home.outside_county,
            HomeGroup::Unknown => &mut report.home.unknown,
        } += n;
        for target in &group.referred_to {
            *report.referrals.entry(target.code()).or_default() += n;
        }
    }
    answer(&req, "sugardejting", &period, &report, Table::measures)
}

#[derive(Serialize, ToSchema, Default, Clone, Copy)]
pub struct RoleCountsView {
    pub selling: u64,
    pub buyer: u64,
    pub sugar_dating: u64,
}

#[derive(Serialize, ToSchema, Default, Clone, Copy)]
pub struct NotificationCounts {
    pub open: u64,
    pub resolved: u64,
}

#[derive(Serialize, ToSchema)]
pub struct MunicipalityFigures {
    #[schema(schema_with = crate::schema::municipality)]
    pub code: &'static str,
    pub name: &'static str,
    /// Connected to the county offer on the period's last day.
    pub connected: bool,
    /// Non-voided encounters met in the period with a home in the municipality.
    pub encounters: RoleCountsView,
    /// For meetings on the period's days; coordinators only (null for outreach workers).
    pub notifications: Option<NotificationCounts>,
}

#[derive(Serialize, ToSchema)]
pub struct MunicipalitiesReport {
    pub period: PeriodView,
    pub municipalities: Vec<MunicipalityFigures>,
}

/// Encounters and notifications by home municipality.
#[utoipa::path(get, path = "/api/v1/reports/municipalities", tag = "reports", security(("bearer" = ["outreach_worker", "coordinator"])),
    description = "Roles: outreach_worker (their unit's encounters, no notifications), coordinator. \
Every municipality of Stockholm County and Gotland. JSON, CSV (one row per municipality) or \
Excel by `Accept`.",
    params(PeriodQuery),
    responses(
        (status = 200, description = "The report", body = MunicipalitiesReport,
         example = json!({"period": {"from": "2025-01-01", "to": "2025-12-31"}, "municipalities": [
            {"code": "0127", "name": "Botkyrka", "connected": false,
             "encounters": {"selling": 12, "buyer": 30, "sugar_dating": 2},
             "notifications": {"open": 3, "resolved": 39}}]})),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A role without this report", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing, unparsable or reversed period, or one longer than ten years", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Busy with other reports; try again after Retry-After", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn municipalities(
    state: web::Data<AppState>,
    auth: Auth<UnitReportReaders>,
    req: HttpRequest,
    query: Result<Query<PeriodQuery>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Query(query) = query?;
    let period = period_of(&query)?;
    let units = units_of(&auth.principal);
    let with_notifications = units == Units::All;
    let bounds = period.utc_bounds();
    let (from, to) = (period.from(), period.to());
    let (all, by_home, notices) = state
        .audited_report(
            auth.actor
                .entry(Action::Export, "report", Some("municipalities".into())),
            move |conn| {
                reports::begin_report(conn)?;
                Ok((
                    reference::municipalities(conn)?,
                    reports::encounters_by_home(conn, bounds, units)?,
                    if with_notifications {
                        reports::notifications_by_municipality(conn, from, to)?
                    } else {
                        Vec::new()
                    },
                ))
            },
        )
        .await?;
    let rows = all
        .iter()
        .map(|m| {
            let code: MunicipalityCode = m.code;
            let mut encounters = RoleCountsView::default();
            for (_, role, n) in by_home.iter().filter(|(home, _, _)| home == code.as_str()) {
                *match role {
                    PersonRole::Selling => &mut encounters.selling,
                    PersonRole::Buyer => &mut encounters.buyer,
                    PersonRole::SugarDating => &mut encounters.sugar_dating,
                } += n;
            }
            let notifications = with_notifications.then(|| {
                let mut counts = NotificationCounts::default();
                for (_, status, n) in notices.iter().filter(|(of, _, _)| of == code.as_str()) {
                    match status {
                        NotificationStatus::Open => counts.open += n,
                        NotificationStatus::Resolved => counts.resolved += n,
                        NotificationStatus::Withdrawn => {}
                    }
                }
                counts
            });
            MunicipalityFigures {
                code: code.as_str(),
                name: code.name(),
                connected: m.connected_on(to),
                encounters,
                notifications,
            }
        })
        .collect();
    let report = MunicipalitiesReport {
        period: PeriodView { from, to },
        municipalities: rows,
    };
    answer(&req, "kommuner", &period, &report, |r| {
        Table::rows(&r.municipalities)
    })
}
