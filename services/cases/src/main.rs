fn main() -> std::process::ExitCode {
    flatgov_grpc::run_main(&flatgov_cases::IDENTITY, flatgov_cases::build)
}
