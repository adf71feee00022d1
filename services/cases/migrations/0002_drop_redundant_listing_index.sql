-- The primary key already serves `order by id desc`; a second index on id only
-- cost every write of a case.
drop index if exists cases_listing;
