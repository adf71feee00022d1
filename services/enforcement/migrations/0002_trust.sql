-- Trust I: request ids move to the chassis, and an enforcement action
-- becomes a record that is never changed once written.

-- Request ids. Units and officers kept theirs unique per agency and
-- operations platform-wide, so one caller's id could answer another
-- caller's retry with a resource that caller may not see. Retries are now
-- remembered per caller and method in the chassis' flatgov_idempotency
-- table (flatgov_grpc::idempotency); these columns, and the unique
-- constraints built on them, go. A retry that straddles this upgrade
-- creates its resource again: retries come within minutes of the first
-- call, upgrades rarely.
alter table units drop column request_id;
alter table officers drop column request_id;
alter table operations drop column request_id;
alter table actions drop column request_id;

-- The clock of a rectification order: its deadline, when the deadline
-- passed unchecked, and the check. It lives beside the action so that the
-- action, the legal record of what an agency did, is only ever inserted
-- (the application role may not update or delete actions).
create table rectification_clocks (
    order_id     uuid primary key references actions (id),
    operation_id uuid        not null references operations (id),
    due          timestamptz not null,
    overdue_at   timestamptz,
    checked_at   timestamptz,
    complied     boolean
);

insert into rectification_clocks (order_id, operation_id, due, overdue_at, checked_at, complied)
select id, operation_id, rectification_due, rectification_overdue_at, rectification_checked_at,
       rectification_complied
  from actions
 where kind = 'rectification_order';

drop index actions_rectification_due;
alter table actions
    drop column rectification_due,
    drop column rectification_overdue_at,
    drop column rectification_checked_at,
    drop column rectification_complied;

-- What the deadline worker claims, and what an operation's overdue flag counts.
create index rectification_clocks_due on rectification_clocks (due)
    where overdue_at is null and checked_at is null;
create index rectification_clocks_by_operation on rectification_clocks (operation_id);
