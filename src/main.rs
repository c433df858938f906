//! The `ticketpulse` binary: everything lives in the library; see `ticketpulse --help`.

/// mimalloc: the engine allocates and frees many small blocks per event (window slices and
/// their sketches come and go every few seconds of event time); glibc's free spent a fifth
/// of replay's time consolidating them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (libmimalloc-sys names no constant
/// for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> std::process::ExitCode {
    // Freed pages go back to the OS after 1 s rather than 10 ms: with the default, replay
    // returned and re-faulted the same pages all along (7% of its time zeroing them), for
    // memory it needed again moments later.
    // SAFETY: sets a plain integer option; mimalloc reads options at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
    ticketpulse::cli::main()
}
