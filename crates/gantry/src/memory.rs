//! The long-running server's allocator settings. glibc's malloc gives every thread that
//! allocates concurrently an arena of its own (up to eight per core) and keeps freed memory in
//! them: after a burst of runs a server that is idle again would hold tens of MiB it no longer
//! uses. `gantry serve` caps the arenas and gives free memory back to the system periodically.
//! Elsewhere (other allocators, other systems) these are no-ops.

/// Caps malloc's arenas at two and maps large blocks on their own. Call it before any thread
/// starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes a malloc parameter; it is called while the process has a
    // single thread, before anything else could be allocating concurrently.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        // A fixed threshold (setting it turns glibc's sliding one off): blocks of 128 KiB and
        // more — password hashing's 19 MiB, compression contexts, large log buffers — are
        // mapped on their own and unmapped when freed, instead of raising the threshold and
        // staying behind in the heap.
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Gives the free memory at the top of malloc's heaps and in its free lists back to the system.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim is thread-safe and only releases memory malloc holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
