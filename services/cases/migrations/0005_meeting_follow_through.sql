-- Follow-through of coordination meetings and the 挂账 register (issue 19).

-- Each meeting action has a state: open until the platform records it done, overdue
-- once its deadline passed while open (found once, by one replica, with the row locked).
alter table meeting_actions
    add column state      text not null default 'open'
        check (state in ('open', 'done', 'overdue')),
    add column done_at    timestamptz,
    add column done_by    text,
    add column overdue_at timestamptz;

-- The deadline worker looks for open actions whose deadline passed.
create index meeting_actions_open_due on meeting_actions (due) where state = 'open';

-- The indicators count overdue actions per owner.
create index meeting_actions_owner on meeting_actions (owner);

-- A parked case's review date wakes the deadline worker like a time limit does
-- (`next_deadline_kind = 'parking_review'`): schedule the cases already parked.
update cases
   set next_deadline_at = ((snapshot -> 'parking' ->> 'review_on')::date::timestamp
                           at time zone 'Asia/Shanghai'),
       next_deadline_kind = 'parking_review',
       earliest_running_due = null
 where state = 'parked' and snapshot -> 'parking' ->> 'review_on' is not null;
