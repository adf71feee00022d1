-- The newest boundary generation this service has applied, by its activation
-- time. Events about generations arrive out of order (a retried or redriven
-- one is overtaken by the next): a generation older than the one applied
-- describes a map that was already replaced and must not move cases back.
create table boundary_generation_applied (
    singleton    boolean primary key default true check (singleton),
    generation   text        not null,
    activated_at timestamptz not null
);
