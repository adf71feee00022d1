fn main() -> std::process::ExitCode {
    flatgov_grpc::run_main(&flatgov_errands::IDENTITY, flatgov_errands::build)
}
