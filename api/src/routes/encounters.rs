//! Encounters: logged by outreach workers, read and changed only by workers of the unit
//! that logged them, voided rather than deleted.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, FixedOffset, Utc};
use faltlogg_domain::access::ShiftScope;
use faltlogg_domain::audit::Action;
use faltlogg_domain::codes::Coded;
use faltlogg_domain::encounter::{
    AgeGroup, AgeYears, ConcernReport, Context, Encounter, EncounterDraft, EncounterFields, Gender,
    PersonRole, Referral, SupportResponse, parse_notes, parse_pseudonym, parse_reason,
};
use faltlogg_domain::ids::{EncounterId, ShiftId};
use faltlogg_domain::municipality::Home;
use faltlogg_domain::text::FreeText;
use faltlogg_domain::time::DeviceTime;
use faltlogg_domain::unit::{ReferralTarget, Unit};
use faltlogg_domain::validation::Collector;
use faltlogg_domain::write::Applied;
use faltlogg_domain::{FieldError, ValidationErrors};
use faltlogg_persistence::encounters::{self, EncounterCursor};
use faltlogg_persistence::shifts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Auth, Claimed, OutreachWorkers};
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Query};
use crate::pagination::{Page, decode_cursor, encode_cursor, page, parse_limit};
use crate::records::path_id;
use crate::records::{if_match, record_response, write_error, writer};
use crate::startup::AppState;
use crate::together::EncounterPut;

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralBody {
    #[schema(schema_with = crate::schema::referral_target)]
    pub target: String,
    /// When the referral was made, RFC 3339 with an offset.
    #[schema(format = DateTime)]
    pub at: Option<String>,
}

/// `{filed_at, municipality}` when this unit filed it, or `{filed_by_unit}` when another
/// unit already had.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcernReportBody {
    #[schema(format = DateTime)]
    pub filed_at: Option<String>,
    /// The SCB code of the municipality whose social services received it.
    #[schema(schema_with = crate::schema::municipality_or_null)]
    pub municipality: Option<String>,
    #[schema(schema_with = crate::schema::unit_or_null)]
    pub filed_by_unit: Option<String>,
    /// The report was filed, and its details were erased at the end of retention. Only a
    /// record that already says so may be sent back with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details_erased: Option<bool>,
}

/// An encounter as a phone writes it (PUT).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EncounterBody {
    pub shift_id: uuid::Uuid,
    /// RFC 3339 with an offset, at most 10 minutes ahead of the server's clock.
    #[schema(format = DateTime)]
    pub occurred_at: String,
    #[schema(schema_with = crate::schema::person_role)]
    pub role: String,
    #[schema(schema_with = crate::schema::age_group)]
    pub age_group: String,
    /// Agrees with `age_group`.
    #[schema(minimum = 0, maximum = 120)]
    pub age_years: Option<i64>,
    /// When in doubt whether someone is a child, log `under_18` with this set.
    pub age_estimated: Option<bool>,
    #[schema(schema_with = crate::schema::gender)]
    pub gender: String,
    /// An SCB municipality code (`"0127"`), `outside_county`, `abroad` or `unknown`.
    #[schema(schema_with = crate::schema::home)]
    pub home_municipality: String,
    /// ISO 3166-1 alpha-2, only with `abroad`.
    #[schema(pattern = "^[A-Z]{2}$")]
    pub home_country: Option<String>,
    /// A unit's own code for linking repeat encounters; never an identity number.
    #[schema(max_length = 64)]
    pub pseudonym: Option<String>,
    pub trafficking_suspected: Option<bool>,
    pub self_harm: Option<bool>,
    pub support_offered: bool,
    /// Only when support was offered.
    #[schema(schema_with = crate::schema::support_response_or_null)]
    pub support_response: Option<String>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub referrals: Vec<ReferralBody>,
    #[schema(format = DateTime)]
    pub guardian_contacted_at: Option<String>,
    #[schema(max_length = 500)]
    pub guardian_not_contacted_reason: Option<String>,
    pub concern_report: Option<ConcernReportBody>,
    /// Short free text; refused when the installation has switched notes off.
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// Required when the shift is closed: why the encounter is changed.
    #[schema(max_length = 500)]
    pub amendment_reason: Option<String>,
}

impl EncounterBody {
    /// The domain's encounter, and the amendment reason beside it.
    pub fn parse(
        self,
        context: &Context,
    ) -> Result<(EncounterDraft, Option<FreeText>), ValidationErrors> {
        let mut errors = Collector::default();
        let occurred_at = errors.take(DeviceTime::parse("occurred_at", &self.occurred_at));
        let role = errors.take(PersonRole::parse_field("role", &self.role));
        let age_group = errors.take(AgeGroup::parse_field("age_group", &self.age_group));
        let age_years = errors.take(
            self.age_years
                .map(|y| AgeYears::parse("age_years", y))
                .transpose(),
        );
        let gender = errors.take(Gender::parse_field("gender", &self.gender));
        let home = errors.take(
            Home::parse(&self.home_municipality, self.home_country.as_deref()).map_err(|e| {
                let field = match e {
                    faltlogg_domain::municipality::HomeError::UnknownMunicipality => {
                        "home_municipality"
                    }
                    _ => "home_country",
                };
                FieldError::new(field, "invalid_home", e.to_string())
            }),
        );
        let pseudonym = errors.take(parse_pseudonym(self.pseudonym.as_deref()));
        let support_response = errors.take(
            self.support_response
                .as_deref()
                .map(|r| SupportResponse::parse_field("support_response", r))
                .transpose(),
        );
        if self.referrals.len() > faltlogg_domain::encounter::MAX_REFERRALS {
            errors.push(FieldError::new(
                "referrals",
                "too_many",
                "at most 20 referrals",
            ));
        }
        let referrals: Vec<Option<Referral>> = self
            .referrals
            .iter()
            .take(faltlogg_domain::encounter::MAX_REFERRALS)
            .enumerate()
            .map(|(i, r)| {
                let target = errors.take(ReferralTarget::parse_field(
                    &format!("referrals[{i}].target"),
                    &r.target,
                ));
                let at = errors.take(
                    r.at.as_deref()
                        .map(|t| DeviceTime::parse(&format!("referrals[{i}].at"), t))
                        .transpose(),
                );
                Some(Referral {
                    target: target?,
                    at: at?,
                })
            })
            .collect();
        let guardian_contacted_at = errors.take(
            self.guardian_contacted_at
                .as_deref()
                .map(|t| DeviceTime::parse("guardian_contacted_at", t))
                .transpose(),
        );
        let guardian_not_contacted_reason = errors.take(parse_reason(
            "guardian_not_contacted_reason",
            self.guardian_not_contacted_reason.as_deref(),
        ));
        let concern_report = errors.take_all(
            self.concern_report
                .as_ref()
                .map(|c| match c {
                    // A record whose details retention erased, sent back as it was pulled.
                    ConcernReportBody {
                        details_erased: Some(true),
                        filed_at: None,
                        municipality: None,
                        filed_by_unit: None,
                    } => Ok(ConcernReport::DetailsErased),
                    _ => ConcernReport::parse(
                        c.filed_at.as_deref(),
                        c.municipality.as_deref(),
                        c.filed_by_unit.as_deref(),
                    ),
                })
                .transpose(),
        );
        let notes = errors.take(parse_notes(self.notes.as_deref()));
        let reason = errors.take(parse_reason(
            "amendment_reason",
            self.amendment_reason.as_deref(),
        ));
        let parsed = (|| {
            let fields = EncounterFields {
                shift_id: ShiftId::from(self.shift_id),
                occurred_at: occurred_at?,
                role: role?,
                age_group: age_group?,
                age_years: age_years?,
                age_estimated: self.age_estimated.unwrap_or(false),
                gender: gender?,
                home: home?,
                pseudonym: pseudonym?,
                trafficking_suspected: self.trafficking_suspected.unwrap_or(false),
                self_harm: self.self_harm.unwrap_or(false),
                support_offered: self.support_offered,
                support_response: support_response?,
                referrals: referrals.into_iter().collect::<Option<Vec<_>>>()?,
                guardian_contacted_at: guardian_contacted_at?,
                guardian_not_contacted_reason: guardian_not_contacted_reason?,
                concern_report: concern_report?,
                notes: notes?,
            };
            Some((fields, reason?))
        })();
        let (fields, reason) = errors.finish(parsed)?;
        Ok((EncounterDraft::new(fields, context)?, reason))
    }
}

/// An encounter as stored: everything the phone wrote, with the server's own fields.
#[derive(Serialize, ToSchema)]
pub struct EncounterView {
    #[schema(value_type = uuid::Uuid)]
    pub id: EncounterId,
    #[schema(value_type = uuid::Uuid)]
    pub shift_id: ShiftId,
    /// The unit of the worker who logged it.
    #[schema(schema_with = crate::schema::unit)]
    pub unit: Unit,
    /// As the device sent it.
    pub occurred_at: DateTime<FixedOffset>,
    #[schema(schema_with = crate::schema::person_role)]
    pub role: PersonRole,
    #[schema(schema_with = crate::schema::age_group)]
    pub age_group: AgeGroup,
    pub age_years: Option<u8>,
    pub age_estimated: bool,
    #[schema(schema_with = crate::schema::gender)]
    pub gender: Gender,
    #[schema(schema_with = crate::schema::home)]
    pub home_municipality: &'static str,
    /// The municipality's name, when the home is a municipality.
    pub home_municipality_name: Option<&'static str>,
    pub home_country: Option<String>,
    pub pseudonym: Option<String>,
    pub trafficking_suspected: bool,
    pub self_harm: bool,
    pub support_offered: bool,
    #[schema(schema_with = crate::schema::support_response_or_null)]
    pub support_response: Option<SupportResponse>,
    pub referrals: Vec<ReferralBody>,
    pub guardian_contacted_at: Option<DateTime<FixedOffset>>,
    pub guardian_not_contacted_reason: Option<String>,
    pub concern_report: Option<ConcernReportBody>,
    pub notes: Option<String>,
    /// Arrived after its shift was closed.
    pub late_entry: bool,
    pub voided: bool,
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    pub version: i64,
    /// When the server first received it.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Encounter> for EncounterView {
    fn from(encounter: Encounter) -> Self {
        let f = encounter.draft.fields();
        let text = |t: &Option<FreeText>| t.as_ref().map(ToString::to_string);
        Self {
            id: encounter.id,
            shift_id: f.shift_id,
            unit: encounter.unit,
            occurred_at: f.occurred_at.as_sent(),
            role: f.role,
            age_group: f.age_group,
            age_years: f.age_years.map(AgeYears::get),
            age_estimated: f.age_estimated,
            gender: f.gender,
            home_municipality: f.home.code(),
            home_municipality_name: match f.home {
                Home::Municipality(code) => Some(code.name()),
                _ => None,
            },
            home_country: f.home.country().map(|c| c.as_str().to_owned()),
            pseudonym: text(&f.pseudonym),
            trafficking_suspected: f.trafficking_suspected,
            self_harm: f.self_harm,
            support_offered: f.support_offered,
            support_response: f.support_response,
            referrals: f
                .referrals
                .iter()
                .map(|r| ReferralBody {
                    target: r.target.code().to_owned(),
                    at: r.at.map(|t| t.to_string()),
                })
                .collect(),
            guardian_contacted_at: f.guardian_contacted_at.map(|t| t.as_sent()),
            guardian_not_contacted_reason: text(&f.guardian_not_contacted_reason),
            concern_report: f.concern_report.map(|c| match c {
                ConcernReport::Filed {
                    filed_at,
                    municipality,
                } => ConcernReportBody {
                    filed_at: Some(filed_at.to_string()),
                    municipality: Some(municipality.as_str().to_owned()),
                    filed_by_unit: None,
                    details_erased: None,
                },
                ConcernReport::FiledByUnit(unit) => ConcernReportBody {
                    filed_at: None,
                    municipality: None,
                    filed_by_unit: Some(unit.code().to_owned()),
                    details_erased: None,
                },
                ConcernReport::DetailsErased => ConcernReportBody {
                    filed_at: None,
                    municipality: None,
                    filed_by_unit: None,
                    details_erased: Some(true),
                },
            }),
            notes: text(&f.notes),
            late_entry: encounter.late_entry,
            voided: encounter.void.is_some(),
            voided_at: encounter.void.as_ref().map(|v| v.at),
            void_reason: encounter
                .void
                .as_ref()
                .and_then(|v| v.reason.as_ref().map(ToString::to_string)),
            version: encounter.version,
            created_at: encounter.created_at,
            updated_at: encounter.updated_at,
        }
    }
}

fn respond(applied: Applied, encounter: Encounter) -> HttpResponse {
    let version = encounter.version;
    record_response(applied, version, &EncounterView::from(encounter))
}

/// Log an encounter, retry it, or update it.
#[utoipa::path(put, path = "/api/v1/encounters/{id}", tag = "encounters", security(("bearer" = ["outreach_worker"])),
    description = "Role: outreach_worker of one of the shift's units; the encounter belongs to \
the writer's unit. A new id creates (201); the same content again is a retry (200, nothing \
changes); any other change needs `If-Match`; in a closed shift a change needs \
`amendment_reason`, and a new encounter is accepted as a late entry.",
    params(
        ("id" = uuid::Uuid, Path, description = "The encounter's id, generated by the phone"),
        ("If-Match" = Option<String>, Header, description = "The version the change is based on: `\"3\"`"),
    ),
    request_body = EncounterBody,
    responses(
        (status = 201, description = "Logged", body = EncounterView, headers(("ETag" = String))),
        (status = 200, description = "Updated, or the same content again", body = EncounterView, headers(("ETag" = String))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an outreach worker", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Another unit's encounter", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The encounter is voided", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match; `current` holds the encounter", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule is broken", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "An update without If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_encounter(
    state: web::Data<AppState>,
    auth: Claimed<OutreachWorkers>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Result<Json<EncounterBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let parsed = body.and_then(|Json(body)| {
        let id: EncounterId = path_id(&path)?;
        let context = Context {
            now: crate::records::now(),
            notes_enabled: state.config.notes_enabled,
        };
        Ok((id, body.parse(&context)?))
    });
    let (id, (draft, reason)) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            auth.confirm(&state).await?;
            return Err(error);
        }
    };
    let (applied, encounter) = state
        .together
        .put(EncounterPut {
            caller: auth.caller,
            id,
            draft,
            if_match: if_match(&req),
            amendment_reason: reason,
        })
        .await?;
    Ok(respond(applied, encounter))
}

/// One encounter of the caller's unit.
#[utoipa::path(get, path = "/api/v1/encounters/{id}", tag = "encounters", security(("bearer" = ["outreach_worker"])),
    description = "Role: outreach_worker of the unit that logged it. No other role ever reads an encounter.",
    params(("id" = uuid::Uuid, Path, description = "Encounter id")),
    responses(
        (status = 200, description = "The encounter", body = EncounterView, headers(("ETag" = String))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an outreach worker", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such encounter of the caller's unit", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_encounter(
    state: web::Data<AppState>,
    auth: Auth<OutreachWorkers>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: EncounterId = path_id(&path)?;
    let unit = writer(&auth.principal)?.unit;
    let entry = auth
        .actor
        .entry(Action::Read, "encounter", Some(id.to_string()));
    let encounter = state
        .audited_read(entry, move |conn| {
            Ok(encounters::get_of_unit(conn, unit, id)?)
        })
        .await?;
    Ok(respond(Applied::Unchanged, encounter))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EncounterQuery {
    pub cursor: Option<String>,
    /// 1 to 500; 100 when absent.
    #[param(value_type = u32, required = false, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

/// The caller's unit's encounters in a shift, voided ones marked.
#[utoipa::path(get, path = "/api/v1/shifts/{id}/encounters", tag = "encounters", security(("bearer" = ["outreach_worker"])),
    description = "Role: outreach_worker of one of the shift's units; only their own unit's encounters.",
    params(("id" = uuid::Uuid, Path, description = "Shift id"), EncounterQuery),
    responses(
        (status = 200, description = "A page of encounters, in order of occurrence", body = Page<EncounterView>),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an outreach worker", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shift of the caller's unit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is invalid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_encounters(
    state: web::Data<AppState>,
    auth: Auth<OutreachWorkers>,
    path: web::Path<String>,
    query: Result<Query<EncounterQuery>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Query(query) = query?;
    let shift: ShiftId = path_id(&path)?;
    let unit = writer(&auth.principal)?.unit;
    let mut errors = Collector::default();
    let cursor = errors.take(decode_cursor::<EncounterId>(query.cursor.as_deref()));
    let limit = errors.take(parse_limit(query.limit.as_deref()));
    let (cursor, limit) = errors.finish(cursor.zip(limit))?;
    let cursor = cursor.map(|(occurred_at, id)| EncounterCursor { occurred_at, id });
    let entry = auth
        .actor
        .entry(Action::List, "shift", Some(shift.to_string()));
    let found = state
        .audited_read(entry, move |conn| {
            shifts::get_in(conn, ShiftScope::Unit(unit), shift)?;
            Ok(encounters::list_in_shift(
                conn,
                unit,
                shift,
                cursor,
                limit + 1,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(page(
        found,
        limit,
        |e| encode_cursor(e.draft.fields().occurred_at.utc(), e.id),
        EncounterView::from,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidBody {
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Void an encounter: kept, marked, out of every count.
#[utoipa::path(post, path = "/api/v1/encounters/{id}/void", tag = "encounters", security(("bearer" = ["outreach_worker"])),
    description = "Role: outreach_worker of the unit that logged it. Voiding withdraws an open \
municipality notification. Voiding a voided encounter again answers 200.",
    params(("id" = uuid::Uuid, Path, description = "Encounter id")),
    request_body = VoidBody,
    responses(
        (status = 200, description = "Voided", body = EncounterView, headers(("ETag" = String))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an outreach worker", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such encounter of the caller's unit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The reason breaks a rule", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn void_encounter(
    state: web::Data<AppState>,
    auth: Auth<OutreachWorkers>,
    path: web::Path<String>,
    body: Result<Json<VoidBody>, ApiError>,
) -> Result<HttpResponse, ApiError> {
    let Json(body) = body?;
    let id: EncounterId = path_id(&path)?;
    let writer = writer(&auth.principal)?;
    let reason = FreeText::parse(
        "reason",
        &body.reason,
        faltlogg_domain::text::limits::REASON,
    )
    .map_err(ValidationErrors::from)?;
    let entry = auth
        .actor
        .entry(Action::Void, "encounter", Some(id.to_string()));
    let (applied, encounter) = state
        .audited(entry, move |conn, _| {
            encounters::void(conn, &writer, id, &reason, crate::records::now())
                .map_err(|e| write_error(e, EncounterView::from))
        })
        .await?;
    Ok(respond(applied, encounter))
}
