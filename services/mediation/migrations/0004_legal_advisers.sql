-- Legal advisers (法律顾问) hired by communities and units, and their
-- consultations on a dispute's stages. An adviser's phone is personal data.
create table advisers (
    id             uuid primary key,
    display_name   text not null,
    phone          text not null,
    community_code text,
    unit           text,
    create_time    timestamptz not null,
    check ((community_code is null) <> (unit is null))
);
create index advisers_by_community on advisers (community_code, id);

create table consultations (
    dispute_id        uuid not null,
    stage_number      integer not null,
    adviser_id        uuid not null references advisers (id),
    consultation_time timestamptz not null,
    notes             text not null,
    recorded_by       text not null,
    record_time       timestamptz not null,
    foreign key (dispute_id, stage_number) references stages (dispute_id, number)
);
create index consultations_by_dispute on consultations (dispute_id, stage_number);

-- The adviser who mediates a stage, when its mediator is one.
alter table stages add column mediator_adviser uuid references advisers (id);
