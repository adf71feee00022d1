-- The cases service's own tables. Personal data (the reporter's contact, the
-- description, the rating comment, linked reports) lives only here and never
-- in events.

-- One row per case: the domain aggregate (snapshot) plus the columns the
-- service filters and sorts on, kept in step with it on every save.
create table cases (
    id                     uuid primary key,
    -- The number of the case's last record (optimistic-concurrency version).
    version                integer     not null,
    state                  text        not null,
    kind                   text        not null,
    channel                text        not null,
    matter_code            text,
    tier                   text,
    latitude               double precision,
    longitude              double precision,
    block_code             text,
    community_code         text,
    subdistrict_code       text,
    -- The most specific division code known ('' before the case is located),
    -- for jurisdiction filters by prefix.
    division_code          text        not null default '',
    -- `staff/{id}` or a unit's resource name.
    assignee               text,
    -- The earliest deadline still to fire (the deadline worker's schedule).
    next_deadline_at       timestamptz,
    next_deadline_kind     text,
    -- The earliest deadline running in the current state, fired or not (the
    -- "overdue" filter).
    earliest_running_due   timestamptz,
    -- lifecycle::CaseSnapshot as JSON.
    snapshot               jsonb       not null,
    -- Non-personal facts beside the aggregate: responsibility, team, refusal,
    -- referral, escalation agencies.
    extras                 jsonb       not null default '{}'::jsonb,
    description            text        not null,
    attachments            text[]      not null default '{}',
    urgent                 boolean     not null default false,
    anonymous              boolean     not null default false,
    -- The token subject that submitted the report (request ids are scoped to it).
    submitted_by           text        not null,
    -- The resident's token subject when a resident reported through the app.
    reporter_subject       text,
    triage_status          text        not null,
    triage_note            text,
    referral_state         text,
    referral_organisation  text,
    rating_comment         text,
    resolution_note        text,
    reported_at            timestamptz not null,
    updated_at             timestamptz not null
);

create index cases_division on cases (division_code text_pattern_ops, id desc);
create index cases_listing on cases (id desc);
create index cases_next_deadline on cases (next_deadline_at) where next_deadline_at is not null;
create index cases_me_too on cases (matter_code, latitude, longitude)
    where state <> 'closed' and latitude is not null;
create index cases_open_block on cases (block_code) where state <> 'closed';
create index cases_assignee on cases (assignee, id desc);
create index cases_reported_at on cases (reported_at);
create index cases_reporter on cases (reporter_subject, id desc) where reporter_subject is not null;

-- The reporter's contact (personal data).
create table case_contacts (
    case_id uuid primary key references cases (id),
    name    text not null,
    phone   text not null
);

-- Every transition of every case: lifecycle::TransitionRecord as JSON. The
-- indicators are recomputed from these.
create table case_records (
    case_id  uuid        not null references cases (id),
    sequence integer     not null,
    record   jsonb       not null,
    at       timestamptz not null,
    primary key (case_id, sequence)
);

-- Reports linked to an open case as "me too" instead of becoming new work.
create table me_too_reports (
    id               uuid primary key,
    case_id          uuid        not null references cases (id),
    channel          text        not null,
    latitude         double precision not null,
    longitude        double precision not null,
    description      text        not null,
    attachments      text[]      not null default '{}',
    contact_name     text,
    contact_phone    text,
    anonymous        boolean     not null,
    submitted_by     text        not null,
    reporter_subject text,
    reported_at      timestamptz not null
);

create index me_too_reports_case on me_too_reports (case_id);

-- A retried report (same caller, same request id) returns the first result.
create table intake_requests (
    submitted_by text not null,
    request_id   text not null,
    case_id      uuid not null references cases (id),
    report_id    uuid references me_too_reports (id),
    primary key (submitted_by, request_id)
);

-- The triage saga's work queue: a case waiting for the block registry and
-- the duty lists (intake, classification by hand, re-homing). Claimed with a
-- lease under FOR UPDATE SKIP LOCKED; retried with backoff; never lost.
create table triage_jobs (
    case_id     uuid primary key references cases (id),
    -- `triage` or `rehome`.
    purpose     text        not null,
    -- Bumped by every new request for the case, so a worker holding an older
    -- claim does not apply stale work.
    revision    bigint      not null default 1,
    -- What a dispatcher asked for (ClassifyCase), if anything.
    matter_code text,
    block_code  text,
    tier        text,
    reason      text,
    -- lifecycle::Actor of whoever asked (the system for intake).
    requested_by jsonb      not null,
    -- The boundary generation that caused a re-homing.
    generation  text,
    attempts    integer     not null default 0,
    run_after   timestamptz not null,
    lease_until timestamptz,
    last_error  text,
    created_at  timestamptz not null default now()
);

create index triage_jobs_due on triage_jobs (run_after);

create function cases_triage_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('flatgov_cases_triage', '');
    return null;
end;
$$;

create trigger cases_triage_notify
    after insert or update of revision, run_after on triage_jobs
    for each statement execute function cases_triage_notify();

-- The local copy of the duty lists' matter catalogue (from
-- flatgov.duties.matter_catalogue.published), to validate matter codes at
-- intake while the duty lists are down.
create table matter_catalogue (
    code                    text primary key,
    name                    text   not null,
    list_item_code          text   not null,
    default_tier            text,
    lead_department         text,
    cooperating_departments text[] not null default '{}'
);

create table matter_catalogue_state (
    singleton      boolean primary key default true check (singleton),
    effective_from timestamptz,
    received_at    timestamptz not null,
    matters        integer     not null
);

-- Coordination meetings of the subdistrict platform.
create table meetings (
    id               uuid primary key,
    case_id          uuid        not null references cases (id),
    subdistrict_code text        not null,
    scheduled_for    timestamptz not null,
    location         text        not null,
    participants     text[]      not null,
    agenda           text        not null,
    state            text        not null,
    decision         text,
    attendees        text[]      not null default '{}',
    decided_at       timestamptz,
    scheduled_by     text        not null,
    request_id       text,
    created_at       timestamptz not null,
    unique (case_id, request_id)
);

create table meeting_actions (
    meeting_id  uuid        not null references meetings (id),
    position    integer     not null,
    description text        not null,
    owner       text        not null,
    due         timestamptz not null,
    primary key (meeting_id, position)
);

-- The clock offset of a test deployment (CASES_TEST_CONTROLS=enabled only),
-- shared by its replicas.
create table test_clock (
    singleton     boolean primary key default true check (singleton),
    offset_millis bigint not null
);
