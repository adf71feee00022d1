fn main() -> std::process::ExitCode {
    flatgov_grpc::run_main(&flatgov_blocks::IDENTITY, flatgov_blocks::build)
}
