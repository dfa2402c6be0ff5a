//! The heap that wasmtime fills when it maps a big component, in transparent huge pages. Mapping a
//! component makes many small allocations (its types, functions and exports): 2 to 4 MiB for a
//! Python plugin. glibc grows its heap 128 KiB at a time, and every new 4 KiB page costs a page
//! fault when it is first touched: 1.2 to 1.7 us each in the VMs sbx is measured on, several
//! hundred faults for such a plugin. Before the first big component is mapped, the heap's used part
//! is made to end on a 2 MiB boundary (an untouched block fills the gap), the heap is grown by 4
//! MiB (`PAD`) at once, and what lies past the boundary is advised to be backed by huge pages, so
//! one fault maps 2 MiB of it. Both steps matter: the heap grows from wherever its top was, and
//! without the filler most of a Python plugin's metadata landed below the first boundary, in small
//! pages (417 faults of a Python plugin's load; 65 with it). The advice must also come before
//! anything writes into the range, as a 2 MiB range holding one small page gets no huge page. The
//! Rust policies (a few hundred KiB of heap for five of them) gain nothing from it: given the
//! huge-page heap, five of them ran no faster and one 0.38 ms slower (80 pairs).
//!
//! Nor does every big component: a huge page costs its 2 MiB of zeroing at its first touch, which
//! pays only when the small pages it replaces are many. Mapping a Python policy takes 1.4 MiB of
//! heap, a JavaScript one 0.6 MiB, a Rust one 50 KiB (malloc's count around the mapping). The
//! huge pages took 0.48 ms off a Python policy's run (150 pairs); for a JavaScript policy they took
//! 0.37 and 0.13 ms off, and added 0.11 to a JavaScript hook's run (150 and 200 pairs), no clear
//! gain. (Measured when the boundary was fixed to lie past the probe, see `boundary_after`: the
//! measures before it, 0.1-0.2 ms off Python's and 0.42-0.46 ms onto JavaScript's, mixed runs
//! with and without the huge page.) So what a component's first mapping took is
//! remembered with its file (see [`super::identity`]), and later runs grow the heap in huge pages
//! only for a component that took at least [`HUGE_WORTH`], between the two; a component not
//! mapped before is judged by its file's size ([`BIG_COMPONENT`]).
//!
//! This is what glibc's own tunables `glibc.malloc.hugetlb=1` and a large `glibc.malloc.top_pad`
//! do; glibc reads tunables only from a new process's environment, so sbx sets the same through
//! mallopt and madvise. Where the kernel gives no huge pages (`transparent_hugepage` is `never`),
//! the advice changes nothing; in its `madvise` mode, a fault in the advised range may reclaim or
//! compact memory to find a huge page, as the host's `defrag` setting says.

/// A component file at least this big and not mapped before gets the heap in huge pages (a
/// Python plugin is about 18 MiB, a JavaScript one 12, a Rust one a few hundred KiB).
pub const BIG_COMPONENT: u64 = 4 << 20;

/// A component whose mapping took at least this much heap gets the heap in huge pages.
pub const HUGE_WORTH: u64 = 1 << 20;

/// Whether the heap should grow in huge pages before the component in a file of `file_size` is
/// mapped, given what its first mapping took (`map_heap`) when that is known.
pub fn wants_huge_pages(file_size: u64, map_heap: Option<u64>) -> bool {
    match map_heap {
        Some(bytes) => bytes >= HUGE_WORTH,
        None => file_size >= BIG_COMPONENT,
    }
}

/// Bytes of memory malloc has handed out and not had back (from its heap or its own mappings);
/// None where that is not known. It walks malloc's free lists, so a load asks it only to measure a
/// file's first mapping.
pub fn in_use() -> Option<u64> {
    glibc::in_use()
}

/// Grows the heap by 4 MiB from a huge page's boundary, advised to be backed by huge pages; once
/// per process.
pub fn grow_in_huge_pages() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(glibc::grow);
}

/// Where malloc is not glibc's, nothing is known of it and nothing is done.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod glibc {
    pub fn in_use() -> Option<u64> {
        None
    }

    pub fn grow() {}
}

/// glibc's malloc, asked and tuned.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    /// How much the heap grows at once from here, and keeps at its top when it shrinks.
    const PAD: usize = 4 << 20;
    /// A huge page's size.
    const HUGE: usize = 2 << 20;
    /// A block bigger than any free one in the heap before a plugin is mapped, so it comes from the
    /// heap's top.
    const PROBE: usize = 1 << 20;
    /// glibc's chunk header before each block.
    const HEADER: usize = 16;

    /// The huge page boundary the heap's used part is made to end on, given where the probe block
    /// began: past the probe's end, since giving the probe out wrote the header of the heap's new
    /// top just after it, and a huge page's range with one small page in it gets no huge page. (A
    /// boundary inside the probe got that write: in about half of runs, as the heap starts where
    /// the kernel randomly puts it, a Python plugin's heap had no huge page, and its run took 0.7
    /// ms longer.)
    fn boundary_after(probe: usize) -> usize {
        (probe + PROBE + HEADER).next_multiple_of(HUGE)
    }

    pub fn in_use() -> Option<u64> {
        // SAFETY: mallinfo2 only reads malloc's own counters and lists, under its locks.
        let info = unsafe { libc::mallinfo2() };
        Some((info.uordblks + info.hblkhd) as u64)
    }

    /// See [`super::grow_in_huge_pages`].
    pub fn grow() {
        const PAGE: usize = 4096;
        // SAFETY: mallopt only changes glibc's thresholds (a value it refuses is ignored).
        unsafe {
            // Blocks below twice the pad come from the heap, not each from an mmap of its own.
            libc::mallopt(libc::M_MMAP_THRESHOLD, (2 * PAD) as libc::c_int);
            libc::mallopt(libc::M_TOP_PAD, PAD as libc::c_int);
        }
        let start = align_top();
        // SAFETY: the pad is freed untouched below, and a null one is fine to free; sbrk(0) reads
        // the program break without moving it.
        let (pad, end) = unsafe {
            // The pad does not fit the heap's top, so the heap grows now.
            let pad = std::hint::black_box(libc::malloc(PAD));
            (pad, libc::sbrk(0) as usize)
        };
        let start = start.next_multiple_of(PAGE);
        if end > start {
            // SAFETY: [start, end) lies in the heap, mapped (it ends at the break); the advice
            // changes no contents, only how pages not yet touched are backed. It comes before the
            // pad is freed: freeing writes into the pad's first page, and a range with a small page
            // in it gets no huge page.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
        // SAFETY: the pad, from malloc above and untouched; freed, it joins the top, and glibc
        // gives back to the kernel all but M_TOP_PAD of it.
        unsafe { libc::free(pad) };
    }

    /// Ends the used part of the heap's top on a huge page's boundary, with a filler block kept
    /// untouched for the process's life (its pages are never faulted in), so that what wasmtime
    /// allocates next starts on one; returns where the heap's next blocks begin. Where the top
    /// cannot be found, that is the break, from which the heap grows.
    fn align_top() -> usize {
        // SAFETY: sbrk(0) reads the program break without moving it. The probe is freed untouched
        // (a null one is fine to free); the filler is never touched, and freed untouched when it is
        // not where the probe was.
        unsafe {
            // Where the heap's free top begins: the probe comes from there, and freed, joins it
            // again (black_box: the compiler may drop a malloc only freed).
            let probe = std::hint::black_box(libc::malloc(PROBE)) as usize;
            // Below the break, it is the heap's; else (no memory, or the arena of a thread other
            // than the main one) there is no boundary to find there.
            let in_heap = probe != 0 && probe < libc::sbrk(0) as usize;
            libc::free(probe as *mut libc::c_void);
            if in_heap {
                // The filler, bigger than the probe, comes from the top too.
                let boundary = boundary_after(probe);
                let filler = libc::malloc(boundary - probe - HEADER);
                if filler as usize == probe {
                    return boundary;
                }
                // Not where the probe was: the top is elsewhere, and the filler only wastes space.
                libc::free(filler);
            }
            libc::sbrk(0) as usize
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_boundary_lies_past_the_probe_and_its_tops_header() {
            let base = 0x2a00000;
            // The heap's top 540 KiB, 1.2 MiB and a page below a boundary, on it, and just past it.
            for probe in [base - 0x87000 + 16, base - 0x12e000 + 16, base - 4096 + 16, base + 16, base + 4096 + 16] {
                let boundary = boundary_after(probe);
                assert_eq!(boundary % HUGE, 0);
                // glibc writes the new top's size in the 16 bytes past the probe's block: below it.
                assert!(boundary >= probe + PROBE + HEADER, "{probe:#x}: {boundary:#x}");
                assert!(boundary - probe < PROBE + HEADER + HUGE, "{probe:#x}: no more than a huge page wasted");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_pages_by_what_the_mapping_took_else_by_the_file_size() {
        // Python's and JavaScript's measured heaps, and a Rust policy's.
        assert!(wants_huge_pages(18 << 20, Some(1_455_184)));
        assert!(!wants_huge_pages(12 << 20, Some(612_576)));
        assert!(!wants_huge_pages(150 << 10, Some(52_608)));
        // Not mapped before: the file's size decides.
        assert!(wants_huge_pages(BIG_COMPONENT, None));
        assert!(!wants_huge_pages(BIG_COMPONENT - 1, None));
    }
}
