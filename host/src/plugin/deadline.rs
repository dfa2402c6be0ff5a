//! A plugin call's time limit for code that computes, without a thread: the calling thread's POSIX
//! timer (made at its first call) sends that thread a real-time signal when the call's time is up,
//! and the handler advances the epoch of the engine the thread is calling into; the call's epoch
//! deadline is the next epoch, so wasmtime traps the plugin's code at its next check (every
//! function entry and loop header). A thread that ticked the epoch every few milliseconds instead
//! cost every run that loads a plugin a thread start and register writes at each of its switches,
//! and made glibc's malloc take its lock for the rest of the process.
//!
//! The signal also ends a host call that blocks: a plugin's file operations run on the calling
//! thread (not on a pool of threads, whose start and hand-offs cost a hook plugin that writes a
//! file a millisecond a run), and a read or an open of a FIFO in its granted directory would wait
//! there for ever. The handler is installed without `SA_RESTART`, so such a call returns EINTR to
//! the plugin, whose next epoch check then traps; and once the time is up the timer fires again
//! every [`REPEAT`], so a call that starts to block just after a signal is interrupted by the next.
//!
//! An engine's epoch is shared by its stores, so its calls must come from one thread at a time:
//! sbx's plugins are neither `Sync` nor shared between threads.

use std::cell::{Cell, RefCell};
use std::sync::OnceLock;
use std::time::Duration;

thread_local! {
    /// The engine this thread is calling into while a deadline is armed, for the signal handler.
    static CALLING: Cell<*const wasmtime::Engine> = const { Cell::new(std::ptr::null()) };
    /// This thread's timer.
    static TIMER: RefCell<Option<ThreadTimer>> = const { RefCell::new(None) };
}

/// A real-time signal nothing else sends sbx (glibc keeps the ones below SIGRTMIN for itself).
fn signal() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

extern "C" fn expire(_: libc::c_int) {
    // try_with: a signal that comes while the thread's locals are torn down finds nothing to do.
    let engine = CALLING.try_with(Cell::get).unwrap_or(std::ptr::null());
    if !engine.is_null() {
        // SAFETY: `arm` set the pointer from a live &Engine that its `Armed` borrows, and `Armed`
        // clears it before that borrow ends. increment_epoch is an atomic add, documented as
        // safe to call from a signal handler.
        unsafe { (*engine).increment_epoch() };
    }
}

fn install() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            // SAFETY: all zeros is a valid sigaction (no handler, empty mask) to fill in.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = expire as *const () as libc::sighandler_t;
            // On the thread's alternate stack when it has one (wasmtime gives threads that run
            // wasm one): the signal may come when the plugin has used up its stack. Without
            // SA_RESTART: a blocking host call is interrupted, not restarted.
            action.sa_flags = libc::SA_ONSTACK;
            // SAFETY: `action` is a live local; the handler only reads a thread-local pointer and
            // adds to an atomic counter.
            let rc = unsafe {
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal(), &action, std::ptr::null_mut())
            };
            if rc != 0 {
                return Err(format!("cannot set the plugins' deadline signal: {}", std::io::Error::last_os_error()));
            }
            Ok(())
        })
        .clone()
}

/// A timer that signals the thread that made it, in the process that made it (a forked child has
/// none of its parent's timers, and makes its own).
struct ThreadTimer {
    pid: u32,
    id: libc::timer_t,
}

impl ThreadTimer {
    fn new() -> Result<ThreadTimer, String> {
        // SAFETY: all zeros is a valid sigevent to fill in.
        let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = signal();
        // SAFETY: gettid has no preconditions.
        event.sigev_notify_thread_id = unsafe { libc::gettid() };
        let mut id: libc::timer_t = std::ptr::null_mut();
        // SAFETY: `event` and `id` are live locals the call reads and fills.
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut id) } != 0 {
            return Err(format!("cannot make the plugins' deadline timer: {}", std::io::Error::last_os_error()));
        }
        Ok(ThreadTimer { pid: std::process::id(), id })
    }

    /// Fires `after` from now, then every `every` (zero: once); an `after` of zero disarms it.
    fn set(&self, after: Duration, every: Duration) -> Result<(), String> {
        let time = |d: Duration| libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as _ };
        let spec = libc::itimerspec { it_interval: time(every), it_value: time(after) };
        // SAFETY: `self.id` is a timer this process made and has not deleted; `spec` is a live local.
        if unsafe { libc::timer_settime(self.id, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(format!("cannot set the plugins' deadline timer: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl Drop for ThreadTimer {
    fn drop(&mut self) {
        if self.pid == std::process::id() {
            // SAFETY: a timer this process made, deleted once.
            unsafe { libc::timer_delete(self.id) };
        }
    }
}

fn with_timer(f: impl FnOnce(&ThreadTimer) -> Result<(), String>) -> Result<(), String> {
    TIMER.with(|timer| {
        let mut timer = timer.borrow_mut();
        if timer.as_ref().is_none_or(|t| t.pid != std::process::id()) {
            *timer = Some(ThreadTimer::new()?);
        }
        f(timer.as_ref().expect("made above"))
    })
}

/// How often the timer fires again once a call's time is up, until the call ends.
const REPEAT: Duration = Duration::from_millis(10);

/// A call's deadline, armed until dropped.
pub struct Armed<'a> {
    _engine: std::marker::PhantomData<&'a wasmtime::Engine>,
}

/// Advances `engine`'s epoch `after` from now (and again every [`REPEAT`]), unless the returned
/// guard is dropped first: a store whose epoch deadline is the next epoch traps then, and a
/// blocking system call of this thread returns EINTR.
pub fn arm(engine: &wasmtime::Engine, after: Duration) -> Result<Armed<'_>, String> {
    install()?;
    CALLING.set(engine);
    if let Err(e) = with_timer(|t| t.set(after.max(Duration::from_nanos(1)), REPEAT)) {
        CALLING.set(std::ptr::null());
        return Err(e);
    }
    Ok(Armed { _engine: std::marker::PhantomData })
}

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        CALLING.set(std::ptr::null());
        // `arm` armed this thread's timer, made in this process: no need to ask for the pid again.
        TIMER.with_borrow(|timer| {
            if let Some(t) = timer {
                let _ = t.set(Duration::ZERO, Duration::ZERO);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> wasmtime::Engine {
        wasmtime::Engine::new(wasmtime::Config::new().epoch_interruption(true)).unwrap()
    }

    /// The epoch as a store sees it: a deadline of `delta` set now has passed once the epoch
    /// moved `delta` times (what a deadline callback is told).
    fn epoch_moved(engine: &wasmtime::Engine, wait: Duration, after: Duration) -> bool {
        let mut store = wasmtime::Store::new(engine, ());
        store.set_epoch_deadline(1);
        let armed = arm(engine, after).unwrap();
        std::thread::sleep(wait);
        drop(armed);
        let moved = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = moved.clone();
        store.epoch_deadline_callback(move |_| {
            seen.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(wasmtime::UpdateDeadline::Continue(1))
        });
        // (func (export "f") (local i32) (loop (br_if 0 (i32.lt_u (local.tee 0 (i32.add (local.get 0)
        // (i32.const 1))) (i32.const 10))))): it checks the epoch at entry and at each iteration.
        let wasm = [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
            0x07, 0x05, 0x01, 0x01, b'f', 0x00, 0x00, 0x0a, 0x15, 0x01, 0x13, 0x01, 0x01, 0x7f, 0x03, 0x40, 0x20, 0x00,
            0x41, 0x01, 0x6a, 0x22, 0x00, 0x41, 0x0a, 0x49, 0x0d, 0x00, 0x0b, 0x0b,
        ];
        let module = wasmtime::Module::new(engine, wasm).unwrap();
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        instance.get_typed_func::<(), ()>(&mut store, "f").unwrap().call(&mut store, ()).unwrap();
        moved.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A blocking read of a pipe nobody writes, on a thread whose deadline of `after` is armed
    /// once `busy` has passed: how long it took, and whether it was interrupted.
    fn blocked_read(after: Duration, busy: Duration) -> (Duration, bool) {
        let engine = engine();
        let (r, _w) = nix::unistd::pipe().unwrap();
        let started = std::time::Instant::now();
        let armed = arm(&engine, after).unwrap();
        while started.elapsed() < busy {
            std::hint::spin_loop();
        }
        let read = nix::unistd::read(&r, &mut [0u8; 1]);
        drop(armed);
        (started.elapsed(), read == Err(nix::errno::Errno::EINTR))
    }

    #[test]
    fn a_blocking_call_is_interrupted_at_the_deadline() {
        let (took, interrupted) = blocked_read(Duration::from_millis(20), Duration::ZERO);
        assert!(interrupted && took < Duration::from_secs(2), "{took:?}");
        // The signal came before the read began: the next one, REPEAT later, interrupts it.
        let (took, interrupted) = blocked_read(Duration::from_millis(1), Duration::from_millis(30));
        assert!(interrupted && took < Duration::from_secs(2), "{took:?}");
    }

    #[test]
    fn the_epoch_moves_once_the_time_is_up_and_not_before() {
        let engine = engine();
        assert!(epoch_moved(&engine, Duration::from_millis(50), Duration::from_millis(5)), "deadline passed");
        assert!(!epoch_moved(&engine, Duration::from_millis(5), Duration::from_secs(5)), "deadline not yet");
    }
}
