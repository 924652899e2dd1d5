//! The tables, in types both backends share: ids as text, times as UTC `Timestamp`,
//! calendar dates as `YYYY-MM-DD` text.

diesel::table! {
    units (code) {
        code -> Text,
        name -> Text,
    }
}

diesel::table! {
    referral_targets (code) {
        code -> Text,
        name -> Text,
        adults_only -> Bool,
        unit_code -> Nullable<Text>,
    }
}

diesel::table! {
    municipalities (code) {
        code -> Text,
        name -> Text,
        in_county -> Bool,
    }
}

diesel::table! {
    special_homes (code) {
        code -> Text,
        name -> Text,
    }
}

diesel::table! {
    municipality_connections (municipality_code, connected_since) {
        municipality_code -> Text,
        connected_since -> Text,
        connected_until -> Nullable<Text>,
        recorded_at -> Timestamp,
    }
}

diesel::joinable!(municipality_connections -> municipalities (municipality_code));
diesel::joinable!(referral_targets -> units (unit_code));

diesel::allow_tables_to_appear_in_same_query!(
    units,
    referral_targets,
    municipalities,
    special_homes,
    municipality_connections,
);
