-- The request ids callers sent with create calls, so a retry returns the
-- first result. Keyed by the caller (token subject) and the method: one
-- caller's id never collides with another's, nor answers for another's.
-- The fingerprint of the request's content tells a retry (same content)
-- from a mistake (same id, other content), which is refused.
create table flatgov_idempotency (
    subject     text        not null,
    method      text        not null,
    request_id  text        not null,
    fingerprint bigint      not null,
    -- The resource the first call created, e.g. cases/0193….
    resource    text        not null,
    created_at  timestamptz not null default now(),
    primary key (subject, method, request_id)
);

create index flatgov_idempotency_created_at on flatgov_idempotency (created_at);
