fn main() -> std::process::ExitCode {
    flatgov_grpc::run_main(&flatgov_federation::IDENTITY, flatgov_federation::build)
}
