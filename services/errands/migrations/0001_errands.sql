-- The errands service's own state: the versioned catalogue of convenience
-- matters, and the errands that run through it with their residents and
-- documents (personal data), one-time notices, results and transitions.
-- Time limits are data: an errand keeps the statutory and promised due
-- times computed on the working calendar at its first submission.

create table catalogue_versions (
    version      integer primary key check (version >= 1),
    publish_time timestamptz not null,
    published_by text not null
);

create table matters (
    version              integer not null references catalogue_versions (version),
    code                 text not null,
    position             integer not null,
    name_zh              text not null,
    name_en              text not null,
    deciding_department  text not null,
    proxy_allowed        boolean not null,
    in_person_required   boolean not null,
    statutory_limit_days integer not null check (statutory_limit_days >= 1),
    promised_limit_days  integer not null check (promised_limit_days between 1 and statutory_limit_days),
    fee_fen              bigint not null check (fee_fen >= 0),
    fee_note             text not null,
    usual_trips          integer not null check (usual_trips >= 0),
    primary key (version, code)
);

create table matter_materials (
    version     integer not null,
    matter_code text not null,
    position    integer not null,
    code        text not null,
    name_zh     text not null,
    name_en     text not null,
    required    boolean not null,
    primary key (version, matter_code, code),
    foreign key (version, matter_code) references matters (version, code)
);

create table errands (
    id                  uuid primary key,
    matter_code         text not null,
    catalogue_version   integer not null,
    block_code          text not null,
    subdistrict_code    text not null,
    channel             text not null check (channel in ('centre', 'block_team', 'app')),
    proxy               boolean not null,
    deciding_department text not null,
    -- Personal data, read only through GetErrand (audited).
    resident_name       text not null,
    resident_phone      text not null,
    resident_id_number  text,
    resident_account    text,
    handler             text not null,
    state               text not null check (state in
        ('collecting', 'awaiting_materials', 'submitted', 'returned', 'decided', 'completed')),
    result              text check (result in ('approved', 'refused', 'returned')),
    refusal_reason      text,
    returns             integer not null default 0,
    resident_trips      integer not null default 0,
    request_time        timestamptz not null,
    submit_time         timestamptz,
    statutory_due       timestamptz,
    promised_due        timestamptz,
    decide_time         timestamptz,
    told_time           timestamptz,
    told_by             text check (told_by in ('call', 'visit', 'message')),
    foreign key (catalogue_version, matter_code) references matters (version, code)
);
create index errands_by_place on errands (block_code, request_time desc, id desc);
create index errands_newest on errands (request_time desc, id desc);
create index errands_by_department on errands (deciding_department, request_time desc);

-- Personal data: references to the resident's documents. A document given
-- again after a return is a new row; the latest one counts.
create table documents (
    errand_id    uuid not null references errands (id),
    number       integer not null,
    material     text not null,
    reference    text not null,
    collect_time timestamptz not null,
    collected_by text not null,
    primary key (errand_id, number)
);

-- The one-time notices of missing materials (一次性告知): one per round.
create table notices (
    errand_id   uuid not null references errands (id),
    round       integer not null check (round >= 0),
    materials   text[] not null,
    notice_time timestamptz not null,
    noticed_by  text not null,
    primary key (errand_id, round)
);

-- The department's returns for materials, each naming the items.
create table returns (
    errand_id   uuid not null references errands (id),
    round       integer not null check (round >= 1),
    materials   text[] not null,
    return_time timestamptz not null,
    primary key (errand_id, round)
);

-- Every step, who and when. Append-only.
create table transitions (
    errand_id  uuid not null references errands (id),
    number     integer not null check (number >= 1),
    action     text not null,
    from_state text,
    to_state   text not null,
    actor      text not null,
    actor_role text not null,
    time       timestamptz not null,
    primary key (errand_id, number)
);

-- Each department's results, for its time to decide: one row per result
-- (a return is a decision too).
create table decisions (
    errand_id    uuid not null references errands (id),
    round        integer not null,
    department   text not null,
    result       text not null check (result in ('approved', 'refused', 'returned')),
    submit_time  timestamptz not null,
    decide_time  timestamptz not null,
    primary key (errand_id, round)
);

-- The offset a test deployment moved its clock by (ERRANDS_TEST_CONTROLS);
-- shared so every replica converges on it.
create table test_clock (
    singleton     boolean primary key default true check (singleton),
    offset_millis bigint not null
);
