//! The `ticketpulse` binary: everything lives in the library; see `ticketpulse --help`.

/// mimalloc: the engine allocates and frees many small blocks per event (window slices and
/// their sketches come and go every few seconds of event time); glibc's free spent a fifth
/// of replay's time consolidating them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ticketpulse::cli::main()
}
