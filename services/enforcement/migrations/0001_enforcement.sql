-- Joint enforcement: agencies, their units and officers, whistle-blown
-- operations, summonses with report-in deadlines, actions, ratings.
-- Deadlines live here, not in sleeping tasks: the deadline worker claims due
-- rows with FOR UPDATE SKIP LOCKED, so several replicas fire each once.

-- Agencies that can be summoned, named by the duty lists' department codes.
create table agencies (
    code            text primary key check (code ~ '^[a-z][a-z0-9]*(_[a-z0-9]+)*$' and length(code) <= 48),
    display_name    text        not null,
    display_name_en text        not null default '',
    active          boolean     not null default true,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);

-- The three agencies of the model, from the start; more are added as data.
insert into agencies (code, display_name, display_name_en) values
    ('urban_management',   '区城市管理和综合执法局', 'Urban Management and Comprehensive Law Enforcement Bureau'),
    ('market_supervision', '区市场监督管理局',       'Market Supervision Administration'),
    ('public_security',    '区公安分局',             'Public Security Sub-bureau');

-- Squads, stations and teams of an agency; a unit stationed in a subdistrict
-- is the force that "sinks" to it.
create table units (
    id                         uuid primary key,
    agency_code                text        not null references agencies (code),
    display_name               text        not null,
    stationed_subdistrict_code text,
    on_duty                    boolean     not null default false,
    active                     boolean     not null default true,
    request_id                 text,
    created_at                 timestamptz not null,
    updated_at                 timestamptz not null,
    unique (agency_code, request_id)
);

create index units_by_agency on units (agency_code, id);
create index units_by_subdistrict on units (stationed_subdistrict_code, id)
    where stationed_subdistrict_code is not null;

-- Officers. Names and phones are personal data: they stay here, never in events.
create table officers (
    id           uuid primary key,
    agency_code  text        not null references agencies (code),
    unit_id      uuid references units (id),
    display_name text        not null,
    badge_number text        not null,
    phone        text        not null default '',
    active       boolean     not null default true,
    request_id   text,
    created_at   timestamptz not null,
    updated_at   timestamptz not null,
    unique (agency_code, badge_number),
    unique (agency_code, request_id)
);

create index officers_by_agency on officers (agency_code, id);

create table operations (
    id                    uuid primary key,
    -- cases/{id}, null for a direct whistle.
    case_name             text,
    request_id            text unique,
    source                text        not null check (source in ('case_escalation', 'direct')),
    state                 text        not null check (state in ('resolving_agencies', 'open', 'concluded', 'follow_up', 'cancelled')),
    subdistrict_code      text        not null,
    block_code            text,
    longitude             double precision,
    latitude              double precision,
    matter_code           text,
    description           text        not null default '',
    urgent                boolean     not null,
    -- A lead the caller named while the agencies are still being resolved.
    requested_lead        text,
    lead_agency           text references agencies (code),
    agency_selection      text check (agency_selection in ('requested', 'duty_lists', 'default_set')),
    agency_selection_note text        not null default '',
    blown_by              text        not null,
    blown_at              timestamptz not null,
    -- Resolving the agencies from the duty lists (saga while they are down).
    resolve_attempts      integer     not null default 0,
    resolve_next_at       timestamptz,
    resolve_fallback_at   timestamptz,
    resolve_last_error    text,
    -- Conclusion (the latest) and the first one, which the indicators use.
    outcome               text check (outcome in ('resolved', 'partially_resolved', 'referred', 'no_violation')),
    conclusion_summary    text,
    concluded_at          timestamptz,
    concluded_by          text,
    first_concluded_at    timestamptz,
    follow_up_opened_at   timestamptz,
    cancel_reason         text,
    cancelled_at          timestamptz,
    cancelled_by          text,
    updated_at            timestamptz not null
);

-- One live operation per case: a case escalated twice opens one operation.
create unique index operations_one_live_per_case on operations (case_name)
    where case_name is not null and state <> 'cancelled';
create index operations_by_subdistrict on operations (subdistrict_code, id);
create index operations_by_blown_at on operations (blown_at);
create index operations_resolving on operations (resolve_next_at)
    where state = 'resolving_agencies';

-- One agency summoned to one operation, with its report-in clock.
create table summonses (
    operation_id    uuid        not null references operations (id),
    agency_code     text        not null references agencies (code),
    -- Order of summoning; the lead is first.
    position        integer     not null,
    summoned_at     timestamptz not null,
    report_in_due   timestamptz not null,
    marked_late_at  timestamptz,
    reported_at     timestamptz,
    reported_by     text,
    unit_id         uuid references units (id),
    report_note     text        not null default '',
    primary key (operation_id, agency_code)
);

create index summonses_due on summonses (report_in_due)
    where reported_at is null and marked_late_at is null;
create index summonses_by_agency on summonses (agency_code, operation_id);
create index summonses_by_summoned_at on summonses (summoned_at);

create table summons_officers (
    operation_id uuid not null,
    agency_code  text not null,
    officer_id   uuid not null references officers (id),
    primary key (operation_id, agency_code, officer_id),
    foreign key (operation_id, agency_code) references summonses (operation_id, agency_code)
);

create table actions (
    id                       uuid primary key,
    operation_id             uuid        not null,
    agency_code              text        not null,
    kind                     text        not null check (kind in ('inspection', 'rectification_order', 'penalty_decision', 'seizure', 'referral', 'rectification_check')),
    request_id               text,
    recorded_by              text        not null,
    recorded_at              timestamptz not null,
    summary                  text        not null,
    notes                    text        not null default '',
    notes_sensitive          boolean     not null default false,
    details                  jsonb       not null,
    attachments              jsonb       not null default '[]'::jsonb,
    -- Rectification orders: the deadline clock and its outcome.
    rectification_due        timestamptz,
    rectification_overdue_at timestamptz,
    rectification_checked_at timestamptz,
    rectification_complied   boolean,
    foreign key (operation_id, agency_code) references summonses (operation_id, agency_code),
    unique (operation_id, agency_code, request_id)
);

create index actions_by_operation on actions (operation_id, recorded_at, id);
create index actions_rectification_due on actions (rectification_due)
    where kind = 'rectification_order' and rectification_overdue_at is null and rectification_checked_at is null;

create table ratings (
    operation_id uuid        not null,
    agency_code  text        not null,
    score        smallint    not null check (score between 1 and 5),
    comment      text        not null default '',
    rated_by     text        not null,
    rated_at     timestamptz not null,
    primary key (operation_id, agency_code),
    foreign key (operation_id, agency_code) references summonses (operation_id, agency_code)
);
