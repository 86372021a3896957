//! Scheduling priority of the store's background threads.
//!
//! The threads that work ahead of the writer (prefaulting pages, pre-creating segments) and run
//! periodic maintenance do work nobody waits for. At normal priority they take CPU time from the
//! broker's request threads whenever both want to run, which on a machine with few cores shows
//! up directly in the latency tail. Measured on the 2-core test
//! machine at 45,000 msg/s (1 KiB, 16 paced producers and one consumer in the same box): the
//! ahead thread alone used up to 16% of a core there (faulting in fresh page-cache pages), and
//! lowering it together with the index builder took the end-to-end p99 from 9.9–13.3 ms to
//! 6.5–8.5 ms (three back-to-back pairs), with no loss of unpaced throughput (numbers in
//! docs/performance.md). If they fall behind under sustained full load the request path does the
//! same work itself (faults pages in, releases mapped pages, creates the next segment), so
//! nothing waits for them indefinitely.
//!
//! The flusher is not lowered: in sync-flush mode it is on every acknowledgement's path. Nor is
//! the index builder: it reads the log behind the writer, and when it fell behind at low
//! priority under full load, the pages it read back in stayed mapped (peak RSS 300–470 MiB
//! instead of 55 MiB with 16 unpaced producers).

// The system calls in this module need `unsafe`; they take no pointers.
#![allow(unsafe_code)]

/// Nice value the background threads run at (the lowest priority, as `nice -n 19`).
pub const BACKGROUND_NICE: i32 = 19;

/// Lowers the calling thread to [`BACKGROUND_NICE`]. Failure (e.g. a seccomp filter) only costs
/// latency, so it is logged and ignored.
pub(crate) fn lower_current_thread() {
    // On Linux the nice value is per thread, and `who == 0` names the calling thread only.
    // SAFETY: setpriority takes no pointers; any argument values are memory-safe.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, BACKGROUND_NICE) };
    if rc != 0 {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "could not lower a background thread's priority"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current_nice() -> i32 {
        // getpriority can legitimately return -1, so errno tells errors apart; 0 stays 0 here.
        // SAFETY: no pointers involved.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn lowers_only_the_calling_thread() {
        let before = current_nice();
        let lowered = std::thread::spawn(|| {
            lower_current_thread();
            current_nice()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, BACKGROUND_NICE);
        assert_eq!(
            current_nice(),
            before,
            "the spawning thread keeps its priority"
        );
    }
}
