-- The newest escalation of each case this service has applied (the case's
-- transition sequence). Escalation events arrive out of order (a retried one
-- is overtaken, a dead letter is redriven late): one older than the newest
-- applied describes a moment the case has left and must not blow a whistle.
create table case_escalations_applied (
    case_name text    primary key,
    sequence  integer not null check (sequence > 0)
);
