-- Judicial confirmation (司法确认) of an agreement: the court's decision
-- within the 30-day window, or the window lapsing. Set once.
alter table agreements
    add column confirmation       text check (confirmation in ('confirmed', 'refused', 'lapsed')),
    add column confirmation_court text,
    add column confirmation_time  timestamptz,
    add check ((confirmation is null) = (confirmation_time is null));

-- The overdue worker's question: windows that closed undecided.
create index agreements_window_open on agreements (confirmation_window_closes)
    where confirmation is null;
