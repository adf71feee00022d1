-- Issue 19, items 4 and 5: on-duty units and sensitive by default.

-- The district duty desk (总值班室) of an agency: the unit a summons goes to
-- when the agency has no unit on duty in the operation's subdistrict. At
-- most one active desk per agency.
alter table units add column duty_desk boolean not null default false;
create unique index units_one_duty_desk_per_agency on units (agency_code)
    where duty_desk and active;

-- Duty rosters (值班表): shifts of a unit, instants [starts_at, ends_at) that
-- may cross midnight, and the officers on duty in them. A shift that has not
-- ended may be taken off the roster; one that has ended stays as it was.
create table duty_shifts (
    id          uuid primary key,
    unit_id     uuid        not null references units (id),
    agency_code text        not null references agencies (code),
    starts_at   timestamptz not null,
    ends_at     timestamptz not null,
    note        text        not null default '',
    created_by  text        not null,
    created_at  timestamptz not null,
    check (ends_at > starts_at)
);

create index duty_shifts_by_unit on duty_shifts (unit_id, starts_at, id);
-- Which shifts run at a moment, for the summons and the report-in.
create index duty_shifts_running on duty_shifts (ends_at, starts_at);

create table duty_shift_officers (
    shift_id   uuid not null references duty_shifts (id),
    officer_id uuid not null references officers (id),
    primary key (shift_id, officer_id)
);

create index duty_shift_officers_by_officer on duty_shift_officers (officer_id);

-- Where a summons went, decided when the agency was summoned: its on-duty
-- unit stationed in the subdistrict, else its duty desk with the gap
-- flagged ('none' when there was no gap). Null on summonses issued before
-- this release, which named no unit.
alter table summonses
    add column summoned_unit_id uuid references units (id),
    add column duty_gap text check (duty_gap in ('none', 'none_on_duty', 'not_stationed'));

-- Sensitive by default: an agency's notes are sensitive, and its findings
-- and penalty details restricted to itself, unless the officer marks an
-- action otherwise. Public security's notes are sensitive by default.
alter table agencies
    add column notes_sensitive_by_default boolean not null default false,
    add column details_restricted_by_default boolean not null default false;

update agencies set notes_sensitive_by_default = true where code = 'public_security';

-- Whether an action's findings and penalty details are restricted to the
-- agency that recorded it. Actions are append-only: existing ones keep
-- what they were recorded with (not restricted).
alter table actions add column details_restricted boolean not null default false;
