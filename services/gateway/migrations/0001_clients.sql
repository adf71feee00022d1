-- The gateway's only state: the civic apps and systems allowed to post
-- Open311 service requests. A key is shown once when it is made; only its
-- SHA-256 is kept (keys are 256 random bits, so a fast hash is enough: there
-- is nothing to guess from a dictionary).
create table open311_clients (
    id uuid primary key,
    name text not null,
    -- The cases service's channel the client's reports arrive through,
    -- e.g. resident_app or hotline_12345.
    channel text not null,
    -- A division code (district, subdistrict, community or block) the
    -- client may report in and read; null for the whole district served.
    jurisdiction text,
    -- Requests a minute the client may make, posts and reads together.
    rate_limit_per_minute integer not null check (rate_limit_per_minute > 0),
    -- The key's first characters, so an operator can tell keys apart.
    key_prefix text not null,
    key_sha256 bytea not null,
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);

-- One active client per name; a revoked name may be registered again.
create unique index open311_clients_active_name on open311_clients (name) where revoked_at is null;
create unique index open311_clients_key on open311_clients (key_sha256);
