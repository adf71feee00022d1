-- The echo test service's own state.
create table echoes (
    id         uuid primary key,
    message    text        not null,
    created_at timestamptz not null default now()
);

-- Effects of consumed Echoed events. `applications` is deliberately not
-- idempotent: it counts how many times a handler ran to completion, so a
-- test sees a double application.
create table echo_effects (
    echo_id      uuid primary key,
    message      text    not null,
    applications integer not null,
    trace_id     text
);
