-- Reference data: the units, where people can be referred, the municipalities of
-- Stockholm County plus Gotland by SCB code, and their dated connection to the county offer.
-- Units change only by migration; connections are corrected by coordinators through the API.

CREATE TABLE units (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL
);

CREATE TABLE referral_targets (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    -- Mikamottagningen and KAST serve adults only.
    adults_only BOOLEAN NOT NULL,
    -- Set when the target is one of the units.
    unit_code TEXT REFERENCES units (code)
);

CREATE TABLE municipalities (
    code TEXT PRIMARY KEY NOT NULL CHECK (length(code) = 4),
    name TEXT NOT NULL,
    in_county BOOLEAN NOT NULL
);

-- The values a person's home can take beside a municipality code.
CREATE TABLE special_homes (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL
);

-- One row per span of connection to the county offer. Dates are calendar dates in
-- Europe/Stockholm written YYYY-MM-DD; connected_until is the last connected day.
CREATE TABLE municipality_connections (
    municipality_code TEXT NOT NULL REFERENCES municipalities (code),
    connected_since TEXT NOT NULL CHECK (length(connected_since) = 10),
    connected_until TEXT CHECK (connected_until IS NULL OR (length(connected_until) = 10 AND connected_until >= connected_since)),
    recorded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (municipality_code, connected_since)
);

INSERT INTO units (code, name) VALUES
    ('mika', 'Mikamottagningen'),
    ('kast', 'KAST – Köpare Av Sexuella Tjänster'),
    ('ungdomsjouren', 'Ungdomsjouren'),
    ('regionkoordinator_vuxna', 'Regionkoordinator mot prostitution och människohandel (vuxna)'),
    ('regionkoordinator_barn', 'Regionkoordinator mot människohandel (barn och unga)');

INSERT INTO referral_targets (code, name, adults_only, unit_code) VALUES
    ('mika', 'Mikamottagningen', TRUE, 'mika'),
    ('kast', 'KAST – Köpare Av Sexuella Tjänster', TRUE, 'kast'),
    ('ungdomsjouren', 'Ungdomsjouren', FALSE, 'ungdomsjouren'),
    ('regionkoordinator_vuxna', 'Regionkoordinator mot prostitution och människohandel (vuxna)', FALSE, 'regionkoordinator_vuxna'),
    ('regionkoordinator_barn', 'Regionkoordinator mot människohandel (barn och unga)', FALSE, 'regionkoordinator_barn'),
    ('stodcentrum', 'Stödcentrum för unga brottsoffer', FALSE, NULL),
    ('mika_halsa', 'Mika hälsa', FALSE, NULL),
    ('protected_housing', 'Skyddat boende', FALSE, NULL),
    ('local_social_services', 'Socialtjänsten i hemkommunen', FALSE, NULL),
    ('reflection_period', 'Betänketid (Migrationsverket)', FALSE, NULL),
    ('iom_return', 'IOM:s återvändandeprogram', FALSE, NULL);

INSERT INTO municipalities (code, name, in_county) VALUES
    ('0114', 'Upplands Väsby', TRUE),
    ('0115', 'Vallentuna', TRUE),
    ('0117', 'Österåker', TRUE),
    ('0120', 'Värmdö', TRUE),
    ('0123', 'Järfälla', TRUE),
    ('0125', 'Ekerö', TRUE),
    ('0126', 'Huddinge', TRUE),
    ('0127', 'Botkyrka', TRUE),
    ('0128', 'Salem', TRUE),
    ('0136', 'Haninge', TRUE),
    ('0138', 'Tyresö', TRUE),
    ('0139', 'Upplands-Bro', TRUE),
    ('0140', 'Nykvarn', TRUE),
    ('0160', 'Täby', TRUE),
    ('0162', 'Danderyd', TRUE),
    ('0163', 'Sollentuna', TRUE),
    ('0180', 'Stockholm', TRUE),
    ('0181', 'Södertälje', TRUE),
    ('0182', 'Nacka', TRUE),
    ('0183', 'Sundbyberg', TRUE),
    ('0184', 'Solna', TRUE),
    ('0186', 'Lidingö', TRUE),
    ('0187', 'Vaxholm', TRUE),
    ('0188', 'Norrtälje', TRUE),
    ('0191', 'Sigtuna', TRUE),
    ('0192', 'Nynäshamn', TRUE),
    ('0980', 'Gotland', FALSE);

INSERT INTO special_homes (code, name) VALUES
    ('outside_county', 'Utanför Stockholms län'),
    ('abroad', 'Utomlands'),
    ('unknown', 'Okänd');

-- The fifteen municipalities the source document names as connected signed early in 2021;
-- 2021-01-01 stands in until coordinators record the real dates. Stockholm is the host
-- of the offer, so its residents count as connected from the same day. Danderyd is not
-- named in the source and the ten it lists as not connected have no row: not connected.

INSERT INTO municipality_connections (municipality_code, connected_since, connected_until, recorded_at) VALUES
    ('0114', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0120', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0123', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0125', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0128', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0136', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0160', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0163', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0180', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0181', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0182', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0183', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0184', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0187', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0191', '2021-01-01', NULL, CURRENT_TIMESTAMP),
    ('0192', '2021-01-01', NULL, CURRENT_TIMESTAMP);
