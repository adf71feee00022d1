-- The mediation service's own state: disputes, their parties (personal
-- data), the stages of the three-mediation linkage with their sessions, and
-- the agreements signed at a stage. Time limits are data: each stage keeps
-- the due time computed on the working calendar when it started, so the
-- overdue worker finds them after any restart.

create table disputes (
    id               uuid primary key,
    -- `cases/{id}` when the dispute arrived as a case.
    case_name        text,
    dispute_type     text not null check (dispute_type in
        ('neighbour', 'family', 'property_management', 'wages', 'consumer', 'land_and_housing', 'other')),
    community_code   text not null,
    subdistrict_code text not null,
    -- Personal data: what the dispute is about, as told.
    summary          text not null,
    party_count      integer not null check (party_count >= 2),
    state            text not null check (state in ('mediating', 'awaiting_hand_over', 'performing', 'closed')),
    resolution       text check (resolution in ('performed', 'withdrawn', 'litigation')),
    current_stage    integer not null check (current_stage >= 1),
    register_time    timestamptz not null,
    close_time       timestamptz,
    registered_by    text not null,
    check ((state = 'closed') = (resolution is not null))
);
create index disputes_by_place on disputes (community_code, register_time desc, id desc);
create index disputes_newest on disputes (register_time desc, id desc);

-- Personal data, read only through GetDispute (audited).
create table parties (
    dispute_id uuid not null references disputes (id),
    number     integer not null check (number >= 1),
    role       text not null check (role in ('applicant', 'respondent')),
    name       text not null,
    phone      text not null,
    id_number  text,
    primary key (dispute_id, number)
);

create table stages (
    dispute_id       uuid not null references disputes (id),
    number           integer not null check (number >= 1),
    level            text not null check (level in ('peoples', 'administrative', 'judicial')),
    organisation     text not null,
    mediator         text,
    trigger          text not null check (trigger in ('registered', 'handed_over', 'overdue', 'reopened')),
    hand_over_reason text,
    start_time       timestamptz not null,
    due_time         timestamptz not null,
    outcome          text check (outcome in ('agreement', 'failed', 'withdrawn')),
    conclude_time    timestamptz,
    -- Set once, by the replica that found the time limit passed.
    overdue_time     timestamptz,
    primary key (dispute_id, number),
    check ((outcome is null) = (conclude_time is null))
);
-- The overdue worker's question: running stages whose limit passed and
-- that were not marked yet.
create index stages_running_due on stages (due_time)
    where outcome is null and overdue_time is null;

create table sessions (
    dispute_id   uuid not null,
    stage_number integer not null,
    number       integer not null check (number >= 1),
    session_time timestamptz not null,
    attendees    text[] not null,
    notes        text not null,
    recorded_by  text not null,
    record_time  timestamptz not null,
    primary key (dispute_id, stage_number, number),
    foreign key (dispute_id, stage_number) references stages (dispute_id, number)
);

-- At most one agreement per stage.
create table agreements (
    dispute_id                 uuid not null,
    stage_number               integer not null,
    terms                      text not null,
    performance_deadline       timestamptz not null,
    confirmation_window_closes timestamptz not null,
    sign_time                  timestamptz not null,
    state                      text not null check (state in ('awaiting_performance', 'performed', 'breached')),
    follow_up_notes            text,
    follow_up_time             timestamptz,
    primary key (dispute_id, stage_number),
    foreign key (dispute_id, stage_number) references stages (dispute_id, number)
);

create table acceptances (
    dispute_id   uuid not null,
    stage_number integer not null,
    party_number integer not null,
    accept_time  timestamptz not null,
    primary key (dispute_id, stage_number, party_number),
    foreign key (dispute_id, stage_number) references agreements (dispute_id, stage_number),
    foreign key (dispute_id, party_number) references parties (dispute_id, number)
);

-- The offset a test deployment moved its clock by (MEDIATION_TEST_CONTROLS);
-- shared so every replica converges on it.
create table test_clock (
    singleton     boolean primary key default true check (singleton),
    offset_millis bigint not null
);
