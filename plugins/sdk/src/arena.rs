//! The plugin's allocator: a bump arena in front of std's (dlmalloc). Each call sbx makes lowers its
//! input into the plugin's memory one allocation per string and list (an entry's path, an
//! environment variable, a mount's options), and the plugin frees them all when it drops the input:
//! in a run with five Rust policies, about 60% of the time spent in the plugins' own code was
//! dlmalloc's `malloc`, `free` and `realloc`. Here an allocation takes the next bytes of a fixed
//! block, a free only counts, and once every block of the arena is free again (the end of a call,
//! after its results are read back) the arena starts over from its beginning.
//!
//! The memory it takes is bounded: what does not fit in the arena comes from std's allocator and
//! goes back to it. A value a plugin keeps across calls (a static it fills once) keeps the arena
//! from starting over, and then it fills once and every later allocation falls through to std's:
//! no faster than without the arena, never more memory than its size. Built only for WebAssembly,
//! which runs one thread; a plugin with an allocator of its own turns the SDK's `arena` feature off.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;

/// The arena's size: a layer of about a thousand entries, or a spec, with room to spare.
const SIZE: usize = 128 << 10;

#[repr(C, align(16))]
struct Block([u8; SIZE]);

/// Where the next allocation begins, how many of the arena's allocations are live, and where the
/// latest one begins (it can grow in place).
#[derive(Clone, Copy)]
struct Cursor {
    next: usize,
    live: usize,
    last: Option<usize>,
}

pub struct Arena {
    block: UnsafeCell<Block>,
    cursor: UnsafeCell<Cursor>,
}

// SAFETY: only WebAssembly plugins use it as their allocator, and they run one thread; the tests
// use an arena of their own from one thread.
unsafe impl Sync for Arena {}

impl Arena {
    pub const fn new() -> Arena {
        Arena {
            block: UnsafeCell::new(Block([0; SIZE])),
            cursor: UnsafeCell::new(Cursor { next: 0, live: 0, last: None }),
        }
    }

    fn base(&self) -> usize {
        self.block.get() as usize
    }

    /// The offset of `ptr` in the arena, when it is one of its allocations.
    fn offset(&self, ptr: *mut u8) -> Option<usize> {
        (ptr as usize).checked_sub(self.base()).filter(|o| *o < SIZE)
    }

    fn cursor(&self) -> Cursor {
        // SAFETY: one thread (see `Sync`), and no reference to the cursor outlives a call.
        unsafe { *self.cursor.get() }
    }

    fn set(&self, cursor: Cursor) {
        // SAFETY: as in `cursor`.
        unsafe { *self.cursor.get() = cursor }
    }
}

// SAFETY: an allocation of the arena is `layout.size()` bytes inside its block, aligned as asked
// (the block's address is rounded up to the alignment), given out once until it is freed: the
// cursor only moves back over the latest allocation when it is freed, or to the start when none is
// live. Everything else is std's allocator's.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let c = self.cursor();
        let start = (self.base() + c.next).next_multiple_of(layout.align()) - self.base();
        if start + layout.size() > SIZE {
            // SAFETY: the caller's layout, as GlobalAlloc::alloc requires it.
            return unsafe { System.alloc(layout) };
        }
        self.set(Cursor { next: start + layout.size(), live: c.live + 1, last: Some(start) });
        (self.base() + start) as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(offset) = self.offset(ptr) else {
            // SAFETY: not the arena's, so std's allocator gave it, with this layout.
            return unsafe { System.dealloc(ptr, layout) };
        };
        let c = self.cursor();
        let live = c.live - 1;
        // Freeing another block leaves the latest the latest; freeing the latest gives its bytes
        // back, and then no live block is known to end at the cursor.
        let (next, last) = match (live, c.last) {
            (0, _) => (0, None),
            (_, Some(last)) if last == offset => (offset, None),
            _ => (c.next, c.last),
        };
        self.set(Cursor { next, live, last });
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(offset) = self.offset(ptr) else {
            // SAFETY: std's allocation, as the caller describes it.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        let c = self.cursor();
        if new_size <= layout.size() {
            return ptr;
        }
        if c.last == Some(offset) && offset + new_size <= SIZE {
            self.set(Cursor { next: offset + new_size, ..c });
            return ptr;
        }
        // SAFETY: a layout of the same alignment and the new size, which the caller says is valid.
        let moved = unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
        if !moved.is_null() {
            // SAFETY: both blocks are live, distinct, and at least `layout.size()` long.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size());
                self.dealloc(ptr, layout);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn starts_over_once_every_allocation_is_free() {
        let arena = Box::new(Arena::new());
        // SAFETY (of the calls below): each pointer is freed once, with the layout it was given.
        unsafe {
            let a = arena.alloc(layout(10, 1));
            let b = arena.alloc(layout(8, 8));
            assert_eq!(arena.offset(a), Some(0));
            assert_eq!(arena.offset(b), Some(16), "aligned");
            arena.dealloc(a, layout(10, 1));
            assert_eq!(arena.cursor().next, 24, "b is still live");
            arena.dealloc(b, layout(8, 8));
            assert_eq!((arena.cursor().next, arena.cursor().live), (0, 0));
            assert_eq!(arena.alloc(layout(4, 4)), a, "the first bytes again");
        }
    }

    #[test]
    fn the_latest_allocation_grows_and_is_given_back_in_place() {
        let arena = Box::new(Arena::new());
        // SAFETY: as above.
        unsafe {
            let keep = arena.alloc(layout(4, 4));
            let v = arena.alloc(layout(16, 8));
            let grown = arena.realloc(v, layout(16, 8), 64);
            assert_eq!(grown, v);
            let other = arena.alloc(layout(8, 8));
            let moved = arena.realloc(grown, layout(64, 8), 128);
            assert_ne!(moved, grown, "no longer the latest: copied");
            arena.dealloc(moved, layout(128, 8));
            assert_eq!(arena.cursor().next, arena.offset(moved).unwrap(), "the latest, given back");
            arena.dealloc(other, layout(8, 8));
            arena.dealloc(keep, layout(4, 4));
            assert_eq!(arena.cursor().next, 0);
        }
    }

    #[test]
    fn what_does_not_fit_comes_from_std_and_goes_back_to_it() {
        let arena = Box::new(Arena::new());
        // SAFETY: as above.
        unsafe {
            let big = arena.alloc(layout(SIZE + 1, 8));
            assert!(!big.is_null() && arena.offset(big).is_none());
            let kept = arena.alloc(layout(SIZE - 8, 8));
            let spill = arena.alloc(layout(64, 8));
            assert!(arena.offset(kept).is_some() && arena.offset(spill).is_none(), "full: std's");
            spill.write_bytes(7, 64);
            let spill = arena.realloc(spill, layout(64, 8), 4096);
            assert_eq!(*spill.add(63), 7);
            arena.dealloc(spill, layout(4096, 8));
            arena.dealloc(big, layout(SIZE + 1, 8));
            assert_eq!(arena.cursor().live, 1, "std's blocks are not counted");
            arena.dealloc(kept, layout(SIZE - 8, 8));
            assert_eq!(arena.cursor().next, 0);
        }
    }
}
