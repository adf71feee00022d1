fn main() -> std::process::ExitCode {
    flatgov_grpc::run_main(&flatgov_duties::IDENTITY, flatgov_duties::build)
}
