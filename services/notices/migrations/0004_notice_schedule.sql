-- A notice's scheduled send time and expiry: deliveries fall due at the
-- send time; a block not delivered by the expiry is given up.
alter table notices
    add column send_time   timestamptz not null default now(),
    add column expire_time timestamptz;
