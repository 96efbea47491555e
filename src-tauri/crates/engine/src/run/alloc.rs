//! glibc's allocator raises its mmap threshold after freeing a large block, after which large
//! response bodies come from the heap and fragment it: resident memory then grows with the
//! volume moved. A fixed threshold and two arenas keep it flat. Call once at start.

/// Tunes the process allocator for long streaming runs (no-op outside glibc).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before heavy allocation.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns freed heap memory to the system (between phases, whose allocation patterns differ).
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}
