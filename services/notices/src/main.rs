fn main() -> std::process::ExitCode {
    flatgov_grpc::run_main(&flatgov_notices::IDENTITY, flatgov_notices::build)
}
