-- Poison rows: a row that failed to publish `OUTBOX_MAX_PUBLISH_ATTEMPTS`
-- times (for a reason of its own, not because NATS was away) is parked: the
-- relay stops trying it, and holds the later rows of the same resource so
-- per-entity order survives, while every other resource keeps flowing.
-- `flatgov outbox retry` clears the mark once the cause is fixed.
alter table flatgov_outbox add column parked_at timestamptz;

-- Until now every failed publish was counted, those of a NATS outage
-- included; from now on only failures of the row's own count, so the old
-- counts start again rather than park rows that only waited out an outage.
update flatgov_outbox set attempts = 0 where attempts > 0;

-- Finds parked rows (the gauge, the CLI) and, per resource, the oldest parked
-- row that holds the later ones.
create index flatgov_outbox_parked on flatgov_outbox (resource, id) where parked_at is not null;
