fn main() -> std::process::ExitCode {
    flatgov_grpc::run_main(&flatgov_enforcement::IDENTITY, flatgov_enforcement::build)
}
