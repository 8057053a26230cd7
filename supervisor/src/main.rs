//! `agent-supervisor`: see the library's `app` module for how it is put together.

fn main() -> std::process::ExitCode {
    supervisor::app::main()
}
