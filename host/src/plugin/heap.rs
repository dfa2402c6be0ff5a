//! The heap that wasmtime fills when it maps a big component, in transparent huge pages. Mapping a
//! component makes many small allocations (its types, functions and exports): about 2 MiB for a
//! Python plugin. glibc grows its heap 128 KiB at a time, and every new 4 KiB page costs a page
//! fault when it is first touched: 1.2 to 1.4 us each in the VMs sbx is measured on, several
//! hundred faults for such a plugin. Before the first big component is mapped, the heap is grown
//! by [`PAD`] at once and that part is advised to be backed by huge pages, so one fault maps 2 MiB
//! of it. The Rust policies (a few hundred KiB of heap for five of them) gain nothing from it:
//! one huge page costs about what their small pages do.
//!
//! This is what glibc's own tunables `glibc.malloc.hugetlb=1` and a large `glibc.malloc.top_pad`
//! do, measured here alike (-0.5 ms for a run with a Python policy, -0.35 ms with a JavaScript
//! one); glibc reads tunables only from a new process's environment, so sbx sets the same through
//! mallopt and madvise. Where the kernel gives no huge pages (`transparent_hugepage` is `never`),
//! the advice changes nothing; in its `madvise` mode, a fault in the advised range may reclaim or
//! compact memory to find a huge page, as the host's `defrag` setting says.

/// A component file at least this big gets the heap in huge pages (a Python plugin is about
/// 18 MiB, a JavaScript one 12, a Rust one a few hundred KiB).
pub const BIG_COMPONENT: u64 = 4 << 20;

/// How much the heap grows at once from here, and keeps at its top when it shrinks.
const PAD: usize = 4 << 20;

/// Grows the heap by [`PAD`], advised to be backed by huge pages; once per process.
pub fn grow_in_huge_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(grow);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn grow() {
    const PAGE: usize = 4096;
    // SAFETY: mallopt only changes glibc's thresholds (a value it refuses is ignored); sbrk(0)
    // reads the program break without moving it; the block malloc gives is freed at once,
    // untouched, and a null one is fine to free.
    let (start, end) = unsafe {
        // Blocks below twice the pad come from the heap, not each from an mmap of its own. The
        // block below does not fit the heap's top, so the heap grows now; freed, it joins the
        // top, and glibc gives back to the kernel all but the pad.
        libc::mallopt(libc::M_MMAP_THRESHOLD, (2 * PAD) as libc::c_int);
        libc::mallopt(libc::M_TOP_PAD, PAD as libc::c_int);
        let start = libc::sbrk(0) as usize;
        // black_box: the compiler may otherwise drop a malloc whose block is only freed.
        libc::free(std::hint::black_box(libc::malloc(PAD)));
        (start, libc::sbrk(0) as usize)
    };
    let start = start.next_multiple_of(PAGE);
    if end > start {
        // SAFETY: [start, end) lies in the heap, mapped (it ends at the break); the advice changes
        // no contents, only how pages not yet touched are backed.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}
