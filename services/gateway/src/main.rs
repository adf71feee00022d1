//! `flatgov-gateway` serves HTTP; `flatgov-gateway migrate` applies the registry's
//! migrations and exits; `flatgov-gateway health-check` exits 0 when the local
//! gateway answers `/healthz`.

use std::process::ExitCode;

fn main() -> ExitCode {
    flatgov_gateway::entry::run()
}
