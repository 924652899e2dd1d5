//! OpenAPI schemas for the closed sets of codes, built from the domain's own lists so the
//! contract cannot drift from the rules.

use faltlogg_domain::codes::Coded;
use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

fn string_enum(codes: Vec<&'static str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes))
        .build()
}

/// The same codes, or null: for optional fields, which answers write as null.
fn nullable_enum(codes: Vec<&'static str>) -> Object {
    let mut values: Vec<serde_json::Value> = codes.into_iter().map(Into::into).collect();
    values.push(serde_json::Value::Null);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values))
        .build()
}

macro_rules! code_schemas {
    ($($name:ident, $nullable:ident => $ty:ty),* $(,)?) => {$(
        pub fn $name() -> Object {
            string_enum(<$ty as Coded>::codes())
        }

        #[allow(dead_code)]
        pub fn $nullable() -> Object {
            nullable_enum(<$ty as Coded>::codes())
        }
    )*};
}

code_schemas!(
    shift_kind, shift_kind_or_null => faltlogg_domain::shift::ShiftKind,
    shift_status, shift_status_or_null => faltlogg_domain::shift::ShiftStatus,
    unit, unit_or_null => faltlogg_domain::unit::Unit,
    referral_target, referral_target_or_null => faltlogg_domain::unit::ReferralTarget,
    person_role, person_role_or_null => faltlogg_domain::encounter::PersonRole,
    age_group, age_group_or_null => faltlogg_domain::encounter::AgeGroup,
    gender, gender_or_null => faltlogg_domain::encounter::Gender,
    support_response, support_response_or_null => faltlogg_domain::encounter::SupportResponse,
    notification_status, notification_status_or_null => faltlogg_domain::notification::NotificationStatus,
    resolution_method, resolution_method_or_null => faltlogg_domain::notification::ResolutionMethod,
);

/// Unit codes, as a list.
pub fn units() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(unit())
        .build()
}

/// An SCB municipality code or one of the special homes.
pub fn home() -> Object {
    let mut codes = municipality_codes();
    codes.extend(
        faltlogg_domain::municipality::Home::SPECIAL
            .iter()
            .map(|(code, _)| *code),
    );
    string_enum(codes)
}

fn municipality_codes() -> Vec<&'static str> {
    faltlogg_domain::municipality::MunicipalityCode::all()
        .map(|c| c.as_str())
        .collect()
}

/// An SCB municipality code.
pub fn municipality() -> Object {
    string_enum(municipality_codes())
}

pub fn municipality_or_null() -> Object {
    nullable_enum(municipality_codes())
}
