-- The duty lists service's own state. Rules (departments, list versions and
-- items, the matter catalogue, per-place exceptions) are edited rarely and
-- read on every case, so the service keeps them in memory and reloads them
-- when `rules_revision` moves; every write to them bumps it in the same
-- transaction.

create table rules_revision (
    singleton boolean primary key default true check (singleton),
    revision  bigint  not null
);
insert into rules_revision (singleton, revision) values (true, 0);

create table departments (
    code        text primary key,
    name        text not null,
    name_en     text,
    create_time timestamptz not null default now(),
    update_time timestamptz not null default now()
);

-- One row per list kind: the next version number to hand out (drafts
-- included, so an abandoned draft's number is never reused).
create table lists (
    kind        text primary key,
    next_number integer not null default 1 check (next_number >= 1)
);
insert into lists (kind) values
    ('subdistrict_duty'),
    ('subdistrict_cooperation'),
    ('residents_self_government'),
    ('residents_assisting'),
    ('residents_negative');

create table list_versions (
    list_kind          text not null references lists (kind),
    number             integer not null check (number >= 1),
    state              text not null check (state in ('draft', 'published')),
    effective_from     timestamptz,
    publish_time       timestamptz,
    published_by       text,
    -- A retried PublishList with the same id returns this version.
    publish_request_id text,
    create_time        timestamptz not null default now(),
    update_time        timestamptz not null default now(),
    primary key (list_kind, number),
    check ((state = 'draft') = (effective_from is null)),
    check ((state = 'draft') = (publish_time is null))
);
-- At most one draft per list.
create unique index list_versions_one_draft on list_versions (list_kind) where state = 'draft';
-- Published versions take effect at strictly increasing instants.
create unique index list_versions_effective on list_versions (list_kind, effective_from)
    where state = 'published';
create unique index list_versions_publish_request on list_versions (publish_request_id)
    where publish_request_id is not null;

create table list_items (
    list_kind               text not null,
    version_number          integer not null,
    code                    text not null,
    category                text not null,
    category_en             text,
    name                    text not null,
    name_en                 text,
    description             text not null default '',
    legal_basis             text not null,
    handling_level          text not null,
    lead_department         text references departments (code),
    cooperating_departments text[] not null default '{}',
    default_tier            text not null,
    response_limit          text not null,
    resolution_limit        text not null,
    primary key (list_kind, version_number, code),
    foreign key (list_kind, version_number) references list_versions (list_kind, number)
        on delete cascade
);
create index list_items_code on list_items (code);

-- The matter catalogue (current state; every change is announced with the
-- whole catalogue).
create table matters (
    code        text primary key,
    name        text not null,
    name_en     text,
    item_code   text not null,
    tier        text,
    create_time timestamptz not null default now(),
    update_time timestamptz not null default now()
);
create index matters_item on matters (item_code);

-- Per-place exceptions. Responsible units are stored as `block_team`,
-- `community`, `subdistrict_platform` or `department:<code>`.
create table place_exceptions (
    id              text primary key,
    place_kind      text not null check (place_kind in ('subdistrict', 'community', 'block', 'area')),
    place_code      text not null,
    scope_kind      text not null check (scope_kind in ('item', 'matter')),
    scope_code      text not null,
    lead            text not null,
    cooperating     text[] not null default '{}',
    tier            text,
    effective_from  timestamptz not null,
    effective_until timestamptz,
    reason          text not null,
    created_by      text not null,
    create_time     timestamptz not null default now(),
    update_time     timestamptz not null default now()
);

-- MatterCataloguePublished announcements due when a published list
-- version takes effect in the future; a worker claims due rows.
create table catalogue_announcements (
    id           bigserial primary key,
    due_at       timestamptz not null,
    announced_at timestamptz
);
create index catalogue_announcements_due on catalogue_announcements (due_at)
    where announced_at is null;

-- Every assignment the gate refused.
create table refusals (
    id                     uuid primary key,
    request_id             text unique,
    matter_code            text not null,
    item_code              text not null,
    item_version           integer,
    from_kind              text not null,
    from_code              text not null,
    to_kind                text not null,
    to_code                text not null,
    reason_code            text not null,
    reason                 text not null,
    responsible_kind       text not null,
    responsible_code       text not null,
    case_name              text,
    attempted_by           text not null,
    caller                 text not null,
    checked_at             timestamptz not null,
    refuse_time            timestamptz not null default now()
);
create index refusals_time on refusals (refuse_time desc, id desc);
create index refusals_from on refusals (from_kind, from_code, refuse_time);
create index refusals_to on refusals (to_code text_pattern_ops);

-- Subdistricts' assessments (考核) of departments.
create table assessments (
    id               uuid primary key,
    request_id       text unique,
    source           text not null check (source in ('direct', 'joint_enforcement')),
    operation        text,
    subdistrict_code text not null,
    department       text not null,
    matter_code      text,
    case_name        text,
    score            smallint not null check (score between 1 and 5),
    comment          text not null default '',
    assess_time      timestamptz not null,
    recorded_by      text,
    create_time      timestamptz not null default now()
);
-- One rating per agency and joint operation.
create unique index assessments_operation on assessments (operation, department)
    where operation is not null;
create index assessments_department on assessments (department, assess_time);
create index assessments_time on assessments (assess_time desc, id desc);

-- Subdistricts' opinions on departments' major decisions, plans, projects.
create table opinions (
    id               uuid primary key,
    request_id       text unique,
    subdistrict_code text not null,
    department       text not null,
    subject          text not null check (subject in ('decision', 'plan', 'project')),
    title            text not null,
    reference        text not null default '',
    stance           text not null check (stance in ('support', 'support_with_conditions', 'oppose')),
    body             text not null,
    give_time        timestamptz not null,
    recorded_by      text not null,
    create_time      timestamptz not null default now()
);
create index opinions_department on opinions (department, give_time);
create index opinions_time on opinions (give_time desc, id desc);
