-- Messages starting with `poison` fail in the echo consumer until a test
-- "fixes the cause" by inserting them here, so a dead letter can be redriven.
create table echo_cures (
    message text primary key
);
