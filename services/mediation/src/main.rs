fn main() -> std::process::ExitCode {
    flatgov_grpc::run_main(&flatgov_mediation::IDENTITY, flatgov_mediation::build)
}
