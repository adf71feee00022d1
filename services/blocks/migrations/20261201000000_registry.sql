-- The block registry: hierarchy, staff roster, boundary generations, teams.
--
-- Codes are kept as text (fixed-width digits, so text order is code order and
-- a child's code starts with its parent's). Geometry is kept as the registry's
-- own compact binary encoding (see src/domain/codec.rs): exact f64 vertices,
-- decoded quickly when the in-memory index is rebuilt; GeoJSON is produced on
-- the way out.

create table districts (
    code            text        primary key check (code ~ '^[0-9]{6}$'),
    display_name    text        not null,
    display_name_en text,
    create_time     timestamptz not null default now(),
    update_time     timestamptz not null default now()
);

create table subdistricts (
    code            text        primary key check (code ~ '^[0-9]{9}$'),
    district_code   text        not null references districts (code),
    display_name    text        not null,
    display_name_en text,
    -- The subdistrict's land, what its blocks must cover exactly once; null until known.
    boundary        bytea,
    land_area_m2    double precision,
    create_time     timestamptz not null default now(),
    update_time     timestamptz not null default now(),
    check (left(code, 6) = district_code)
);

create index subdistricts_district on subdistricts (district_code);

create table communities (
    code             text        primary key check (code ~ '^[0-9]{12}$'),
    subdistrict_code text        not null references subdistricts (code),
    display_name     text        not null,
    display_name_en  text,
    create_time      timestamptz not null default now(),
    update_time      timestamptz not null default now(),
    check (left(code, 9) = subdistrict_code)
);

create index communities_subdistrict on communities (subdistrict_code);

-- The staff roster: personal data that never leaves this service in events.
create table staff (
    id            text        primary key,
    display_name  text        not null,
    phone         text,
    unit          text,
    -- Division code (6, 9, 12 or 15 digits) the person works for, optional.
    division_code text,
    -- CreateStaff's idempotency key.
    request_id    text        unique,
    create_time   timestamptz not null default now(),
    update_time   timestamptz not null default now()
);

create index staff_division on staff (division_code text_pattern_ops);

create table generations (
    id                  uuid        primary key,
    state               text        not null check (state in ('draft', 'active', 'retired', 'discarded')),
    description         text        not null default '',
    block_count         integer     not null,
    total_households    bigint      not null,
    create_time         timestamptz not null default now(),
    created_by          text        not null,
    activate_time       timestamptz,
    retire_time         timestamptz,
    previous_generation uuid references generations (id),
    -- Partial imports: the generation the other subdistricts were copied from, and the scope.
    base_generation     uuid references generations (id),
    scope_subdistricts  text[]      not null default '{}',
    -- ImportBlocks' idempotency key and a digest of the request it answered.
    request_id          text        unique,
    request_digest      text
);

-- At most one generation is in force.
create unique index generations_one_active on generations ((true)) where state = 'active';
create index generations_timeline on generations (activate_time) where activate_time is not null;

create table generation_blocks (
    generation_id    uuid             not null references generations (id) on delete cascade,
    code             text             not null check (code ~ '^[0-9]{15}$'),
    display_name     text             not null,
    households       bigint           not null check (households between 0 and 4294967295),
    community_code   text             not null,
    subdistrict_code text             not null,
    geometry         bytea            not null,
    area_m2          double precision not null,
    -- Since when the block has had this shape; null in a draft.
    valid_from       timestamptz,
    -- When it stopped having it (retired or reshaped); null while in force.
    valid_to         timestamptz,
    primary key (generation_id, code),
    check (left(code, 12) = community_code and left(code, 9) = subdistrict_code)
);

create index generation_blocks_code on generation_blocks (code);

-- Teams per generation: the active generation's rows are in force, a draft's
-- rows take effect when it is activated.
create table block_teams (
    generation_id uuid        not null references generations (id) on delete cascade,
    block_code    text        not null,
    governor      text        not null references staff (id),
    supervisor    text        not null references staff (id),
    -- registry_state.revision of the write, so replicas reload only what changed.
    revision      bigint      not null,
    update_time   timestamptz not null default now(),
    primary key (generation_id, block_code),
    foreign key (generation_id, block_code) references generation_blocks (generation_id, code) on delete cascade,
    check (governor <> supervisor)
);

create index block_teams_revision on block_teams (generation_id, revision);
create index block_teams_governor on block_teams (governor);
create index block_teams_supervisor on block_teams (supervisor);

create table block_team_assistants (
    generation_id uuid    not null,
    block_code    text    not null,
    staff_id      text    not null references staff (id),
    role          text    not null check (role in ('liaison_cadre', 'party_group_leader', 'owners_committee_member', 'resident_representative')),
    position      integer not null,
    primary key (generation_id, block_code, staff_id),
    foreign key (generation_id, block_code) references block_teams (generation_id, block_code) on delete cascade
);

create index block_team_assistants_staff on block_team_assistants (staff_id);

-- Every team that was in force, for "who was responsible on 2024-03-01".
create table block_team_history (
    id          bigserial   primary key,
    block_code  text        not null,
    governor    text        not null,
    supervisor  text        not null,
    -- [{"staff": id, "role": "liaison_cadre"}, ...]
    assistants  jsonb       not null,
    valid_from  timestamptz not null,
    valid_to    timestamptz
);

create index block_team_history_block on block_team_history (block_code, valid_from);
create unique index block_team_history_current on block_team_history (block_code) where valid_to is null;

-- One row: the revision every replica's in-memory snapshot is compared with.
-- Every change to what lookups serve (activation, a team in force) bumps it
-- under this row's lock, which also serialises those changes.
create table registry_state (
    singleton         boolean primary key default true check (singleton),
    revision          bigint  not null,
    active_generation uuid    references generations (id)
);

insert into registry_state (singleton, revision, active_generation) values (true, 0, null);
