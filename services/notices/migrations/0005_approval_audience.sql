-- District-wide notices wait for a second person's approval; the audience
-- is counted from the block registry (blocks and households), and a block
-- without a robot is recorded as not reachable ('skipped') instead of being
-- left out; notices carry attachments by reference.

alter table notices
    add column state        text not null default 'published'
                            check (state in ('pending_approval', 'published')),
    add column approved_by  text not null default '',
    add column approve_time timestamptz,
    add column attachments  text[] not null default '{}';

alter table notice_deliveries
    add column households integer not null default 0 check (households >= 0);
alter table notice_deliveries drop constraint notice_deliveries_state_check;
alter table notice_deliveries add constraint notice_deliveries_state_check
    check (state in ('pending', 'delivered', 'given_up', 'skipped'));

-- The indicators count by period and place.
create index notices_create_time on notices (create_time);
create index feedback_occurred on feedback (occurred_time);
create index return_visits_verified on return_visits (verified_time);
