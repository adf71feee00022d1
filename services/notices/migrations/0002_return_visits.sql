-- Return visits (回访): a verified case its reporter has not rated within N
-- working days gets a return-visit message; still unrated M working days
-- later, the service publishes ReturnVisitExpired and the cases service
-- closes it as unrated.

alter table feedback drop constraint feedback_milestone_check;
alter table feedback add constraint feedback_milestone_check
    check (milestone in ('received', 'accepted', 'resolved', 'closed', 'reopened', 'return_visit'));

-- One row per case: its latest verification and where the follow-up stands.
-- Each case event is read by its own consumer, so a rating may arrive before
-- the verification it follows: settled_sequence remembers the latest record
-- that settled the case, and a verification older than it starts nothing.
--   waiting  verified, the visit is due at visit_due_time
--   visited  the return-visit message is recorded; expires at expire_time
--   expired  ReturnVisitExpired was published
--   settled  rated, reopened or closed first: nothing more to do
create table return_visits (
    case_id           uuid primary key,
    -- 0 while only a settling event has arrived.
    verified_sequence integer not null check (verified_sequence >= 0),
    settled_sequence  integer not null default 0,
    block_code        text not null default '',
    subdistrict_code  text not null default '',
    verified_time     timestamptz not null,
    visit_due_time    timestamptz not null,
    state             text not null default 'waiting'
                      check (state in ('waiting', 'visited', 'expired', 'settled')),
    visited_time      timestamptz,
    expire_time       timestamptz,
    update_time       timestamptz not null default now(),
    -- A visit, once made, keeps its expiry (a settled row may have one).
    check (state not in ('visited', 'expired') or expire_time is not null)
);
create index return_visits_due on return_visits (visit_due_time) where state = 'waiting';
create index return_visits_expiring on return_visits (expire_time) where state = 'visited';
