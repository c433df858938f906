//! The `ticketpulse` binary: everything lives in the library; see `ticketpulse --help`.

fn main() -> std::process::ExitCode {
    ticketpulse::cli::main()
}
