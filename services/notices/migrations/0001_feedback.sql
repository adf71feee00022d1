-- The notices service's own state: the gateways feedback is delivered
-- through, one row per message due to a case's reporter, and the record of
-- every delivery attempt. No table holds a reporter's name, phone or the
-- text sent: the contact is fetched from the cases service at the moment
-- of sending and the text is rendered from the template then.

-- Gateways, by code: `default`, or the case channel they serve
-- (`hotline_12345`, `resident_app`, …). The URL (a WeCom robot's holds its
-- key) and the signing secret are never returned by the API.
create table gateways (
    code        text primary key,
    kind        text not null check (kind in ('signed_webhook', 'wecom_robot')),
    url         text not null,
    secret      text,
    description text not null default '',
    update_time timestamptz not null default now(),
    check ((kind = 'signed_webhook') = (secret is not null))
);

-- One message per case and milestone: the primary key is what makes a
-- redelivered or replayed case event, a restart or a second replica send
-- nothing twice.
create table feedback (
    case_id           uuid not null,
    milestone         text not null check (milestone in ('received', 'accepted', 'resolved', 'closed', 'reopened')),
    -- A stable id per message: the Standard Webhooks `webhook-id`, so a
    -- gateway recognises a retry of a message it already took.
    delivery_id       uuid not null unique,
    -- Where the case lies, for who may read its feedback.
    block_code        text not null default '',
    subdistrict_code  text not null default '',
    -- What the template needs beside the case number: who handles it
    -- (a staff id or a unit's resource name) and how it closed.
    handler           text not null default '',
    closure           text not null default '',
    occurred_time     timestamptz not null,
    state             text not null default 'pending'
                      check (state in ('pending', 'delivered', 'given_up', 'skipped')),
    gateway           text not null default '',
    attempts          integer not null default 0 check (attempts >= 0),
    note              text not null default '',
    next_attempt_time timestamptz not null default now(),
    delivered_time    timestamptz,
    create_time       timestamptz not null default now(),
    primary key (case_id, milestone)
);
create index feedback_due on feedback (next_attempt_time) where state = 'pending';

-- Every attempt, as it ended: delivered, failed (to be retried) or given
-- up. Append-only (the application role may only insert).
create table delivery_attempts (
    id           bigint generated always as identity primary key,
    case_id      uuid not null,
    milestone    text not null,
    attempt      integer not null,
    gateway      text not null,
    outcome      text not null check (outcome in ('delivered', 'failed', 'given_up')),
    note         text not null default '',
    attempt_time timestamptz not null default now(),
    foreign key (case_id, milestone) references feedback (case_id, milestone)
);
create index delivery_attempts_feedback on delivery_attempts (case_id, milestone, attempt);
