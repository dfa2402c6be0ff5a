//! Plugin memories kept out of the container's child. A plugin's linear memory starts as its
//! compiled component's data, mapped privately from the `.cwasm` file in the compile cache; the
//! pages the plugin read or wrote are in that mapping's page tables. The clone that makes a
//! container's child copies those tables (every present page, once a page was written), and the
//! child's exec throws the copy away: for a Python policy, about 1,500 pages (6 MiB) twice, though
//! the child never looks at plugin memory. Advised `MADV_DONTFORK` before the clone, these mappings
//! are left out of the child. Finding them costs 30 to 60 us (/proc/self/maps: wasmtime does not
//! give the addresses of a component's core memories), paid where a big plugin is loaded, whose
//! memory is megabytes.

use std::path::Path;

/// The address ranges of `maps` (the text of /proc/self/maps) that are plugin memories: writable
/// private mappings of a compiled component in `cache_dir` (the kernel's path to it), even one
/// since deleted. Code is mapped read-only, and fork copies no page tables for such mappings.
pub fn memories(maps: &str, cache_dir: &Path) -> Vec<(usize, usize)> {
    maps.lines().filter_map(|line| memory(line, cache_dir)).collect()
}

fn memory(line: &str, cache_dir: &Path) -> Option<(usize, usize)> {
    let mut fields = line.splitn(6, ' ');
    let (range, perms) = (fields.next()?, fields.next()?);
    // A compiled component pruned from the cache while mapped is listed as such.
    let path = Path::new(fields.nth(3)?.trim_start().trim_end_matches(" (deleted)"));
    if perms != "rw-p" || path.parent() != Some(cache_dir) || path.extension()? != "cwasm" {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    Some((usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?))
}

/// Advises every plugin memory of this process (see [`memories`]) not to be copied into children.
/// Only a cost saved: a failure leaves the mappings as they were.
pub fn keep_from_children(cache_dir: &Path) {
    // The kernel names files by their paths without symbolic links.
    let (Ok(cache_dir), Some(maps)) = (std::fs::canonicalize(cache_dir), read_maps()) else { return };
    for (start, end) in memories(&maps, &cache_dir) {
        // SAFETY: the range is a whole mapping of this process (the kernel listed it); the advice
        // changes no contents, only that a child made by fork or clone gets none of it. No code of
        // the container's child touches plugin memory: wasmtime runs plugins in this process only.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTFORK) };
    }
}

/// /proc/self/maps, read into room made first: `fs::read_to_string` finds no size for it and
/// starts with reads of a few bytes, and the kernel lists the mappings again for each read.
fn read_maps() -> Option<String> {
    use std::io::Read;
    let mut maps = String::with_capacity(16 << 10);
    std::fs::File::open("/proc/self/maps").ok()?.read_to_string(&mut maps).ok()?;
    Some(maps)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
00400000-01a00000 r-xp 00000000 fd:01 1234                               /usr/bin/sbx
7f0000000000-7f0000100000 rw-p 00000000 00:00 0 
7f1000000000-7f1000b00000 rw-p 00082000 fd:01 99                         /cache/ab-cd.cwasm
7f1000b00000-7f1000c00000 rw-p 00000000 00:00 0 
7f2000000000-7f2000400000 r-xp 00001000 fd:01 99                         /cache/ab-cd.cwasm
7f3000000000-7f3000010000 r--p 00000000 fd:01 99                         /cache/ab-cd.cwasm
7f4000000000-7f4000010000 rw-p 00000000 fd:01 98                         /elsewhere/x.cwasm
7f5000000000-7f5000010000 rw-p 00000000 fd:01 97                         /cache/notes.bin
7f6000000000-7f6000020000 rw-p 00002000 fd:01 96                         /cache/ef-01.cwasm (deleted)
";

    #[test]
    fn lists_the_writable_private_mappings_of_compiled_components_in_the_cache() {
        let listed = memories(MAPS, Path::new("/cache"));
        assert_eq!(listed, vec![(0x7f1000000000, 0x7f1000b00000), (0x7f6000000000, 0x7f6000020000)]);
    }

    #[test]
    fn lists_nothing_for_another_cache() {
        assert!(memories(MAPS, Path::new("/other")).is_empty());
    }
}
