-- Block notices (防汛, 防溺水, 疫情防控, 停水停电, 活动, 政策) to the blocks'
-- WeCom groups, through each block group's robot.

-- A block group's robot. The URL holds the robot's key: never returned.
create table block_robots (
    block_code    text primary key,
    url           text not null,
    state         text not null default 'active' check (state in ('active', 'broken')),
    broken_reason text not null default '',
    update_time   timestamptz not null default now()
);

create table notices (
    id          uuid primary key,
    -- The audience's division code (a block, community or subdistrict).
    audience    text not null,
    category    text not null
                check (category in ('flood', 'drowning_prevention', 'epidemic', 'outage', 'activity', 'policy')),
    title       text not null,
    body        text not null,
    created_by  text not null,
    create_time timestamptz not null default now()
);

-- One row per notice and block reached: the delivery, part by part, so a
-- delivery resumed after a crash sends only the parts the group lacks and
-- never touches a block already delivered.
create table notice_deliveries (
    notice_id         uuid not null references notices (id),
    block_code        text not null,
    state             text not null default 'pending'
                      check (state in ('pending', 'delivered', 'given_up')),
    attempts          integer not null default 0 check (attempts >= 0),
    parts             integer not null check (parts >= 1),
    parts_sent        integer not null default 0 check (parts_sent >= 0 and parts_sent <= parts),
    note              text not null default '',
    next_attempt_time timestamptz not null default now(),
    delivered_time    timestamptz,
    primary key (notice_id, block_code)
);
create index notice_deliveries_due on notice_deliveries (next_attempt_time) where state = 'pending';
create index notice_deliveries_block on notice_deliveries (block_code, notice_id);

-- Every call to a robot, as it ended. Append-only.
create table notice_attempts (
    id           bigint generated always as identity primary key,
    notice_id    uuid not null,
    block_code   text not null,
    part         integer not null,
    outcome      text not null check (outcome in ('delivered', 'failed', 'given_up')),
    note         text not null default '',
    attempt_time timestamptz not null default now(),
    foreign key (notice_id, block_code) references notice_deliveries (notice_id, block_code)
);
