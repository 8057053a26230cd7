use std::process::ExitCode;

fn main() -> ExitCode {
    control_plane::cli::main()
}
