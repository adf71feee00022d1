-- The transactional outbox: a service writes its state change and the events
-- describing it in one transaction; the relay publishes them afterwards.
create table flatgov_outbox (
    -- Commit order within this database; the relay publishes in id order.
    id            bigserial primary key,
    -- CloudEvents id and NATS message id (deduplication key downstream).
    event_id      uuid        not null unique,
    -- Canonical subject without any test prefix, e.g. flatgov.cases.case.dispatched.
    subject       text        not null,
    -- Protobuf full name, the CloudEvents type.
    event_type    text        not null,
    -- Resource name (CloudEvents subject) and the per-entity ordering key.
    resource      text        not null,
    payload       bytea       not null,
    -- W3C trace context of the transaction that wrote the event.
    trace_headers jsonb       not null default '{}'::jsonb,
    occurred_at   timestamptz not null default now(),
    published_at  timestamptz,
    -- Failed publish attempts, for diagnosis.
    attempts      integer     not null default 0,
    last_error    text
);

create index flatgov_outbox_unpublished on flatgov_outbox (id) where published_at is null;
create index flatgov_outbox_unpublished_resource on flatgov_outbox (resource, id) where published_at is null;
create index flatgov_outbox_published_at on flatgov_outbox (published_at) where published_at is not null;

-- One notification per inserting statement, delivered at commit: the relay
-- wakes on commit instead of polling.
create function flatgov_outbox_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('flatgov_outbox', '');
    return null;
end;
$$;

create trigger flatgov_outbox_notify
    after insert on flatgov_outbox
    for each statement execute function flatgov_outbox_notify();

-- The idempotent consumer's memory: one row per event a consumer applied,
-- written in the same transaction as the handler's effects.
create table flatgov_inbox (
    consumer     text        not null,
    event_id     text        not null,
    event_type   text        not null,
    processed_at timestamptz not null default now(),
    primary key (consumer, event_id)
);

create index flatgov_inbox_processed_at on flatgov_inbox (processed_at);
