-- Risks of escalation (激化), each kind flagged once per dispute, and the
-- links between repeat disputes of the same parties.
create table risks (
    dispute_id uuid not null references disputes (id),
    kind       text not null check (kind in ('threat', 'many_parties', 'repeat')),
    flag_time  timestamptz not null,
    primary key (dispute_id, kind)
);

create table dispute_links (
    dispute_id uuid not null references disputes (id),
    earlier_id uuid not null references disputes (id),
    primary key (dispute_id, earlier_id)
);

-- Finding earlier disputes of the same parties by their phone numbers.
create index parties_by_phone on parties (phone);
