;; sbx's stderr-only WASI adapter: what a Rust policy's std needs of wasi_snapshot_preview1 (the
;; WASI that Debian's wasi-libc is built for), and nothing more. wasm-component-ld links it instead
;; of the standard preview1 adapter, which brings wasi:filesystem, the clocks, stdin and the
;; environment into every component because its fd_write goes through a table of descriptors.
;; With this one a policy imports only stderr (and its stream and error resources): less for sbx
;; to load and link on every run, and nothing a policy has no use for.
;;
;; - fd_write: fd 2 goes to wasi:cli/stderr, where sbx keeps a failing call's last words (a
;;   panic's message); fd 1 is discarded, as sbx gives plugins no stdout; any other fd is EBADF.
;; - environ_get, environ_sizes_get: an empty environment, as sbx gives plugins none.
;; - proc_exit: a trap. A policy answers its calls; one that exits has failed the call.
;;
;; A module that imports anything else of preview1 (files, clocks, randomness) fails to link with
;; this adapter, naming the function: such a plugin is built with the standard one.
(module
  (import "env" "memory" (memory 0))
  (import "__main_module__" "cabi_realloc" (func $realloc (param i32 i32 i32 i32) (result i32)))
  (import "wasi:cli/stderr@0.2.6" "get-stderr" (func $get_stderr (result i32)))
  (import "wasi:io/streams@0.2.6" "[method]output-stream.blocking-write-and-flush"
    (func $write (param $stream i32) (param $ptr i32) (param $len i32) (param $ret i32)))
  (import "wasi:io/streams@0.2.6" "[resource-drop]output-stream" (func $drop_stream (param i32)))
  (import "wasi:io/error@0.2.6" "[resource-drop]error" (func $drop_error (param i32)))

  ;; Where a write's result<_, stream-error> is returned: 12 bytes of the main module's memory,
  ;; taken from its allocator at the first write to stderr. Its layout: the result's case (byte 0),
  ;; the stream-error's case (byte 4; 0 is last-operation-failed) and that case's error (bytes 8-11).
  (global $ret (mut i32) (i32.const 0))

  (func (export "environ_get") (param i32 i32) (result i32)
    i32.const 0)

  (func (export "environ_sizes_get") (param $count i32) (param $size i32) (result i32)
    (i32.store (local.get $count) (i32.const 0))
    (i32.store (local.get $size) (i32.const 0))
    i32.const 0)

  (func (export "proc_exit") (param i32)
    unreachable)

  ;; fd_write(fd, iovs, iovs_len, nwritten) -> errno, with iovs an array of (pointer, length).
  (func (export "fd_write") (param $fd i32) (param $iovs i32) (param $n i32) (param $written i32) (result i32)
    (local $total i32) (local $ptr i32) (local $len i32) (local $chunk i32) (local $stream i32) (local $errno i32)
    (if (i32.eq (local.get $fd) (i32.const 1))
      (then
        (block $counted
          (loop $iov
            (br_if $counted (i32.eqz (local.get $n)))
            (local.set $total (i32.add (local.get $total) (i32.load offset=4 (local.get $iovs))))
            (local.set $iovs (i32.add (local.get $iovs) (i32.const 8)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $iov)))
        (i32.store (local.get $written) (local.get $total))
        (return (i32.const 0))))
    (if (i32.ne (local.get $fd) (i32.const 2))
      (then (return (i32.const 8)))) ;; EBADF
    (if (i32.eqz (global.get $ret))
      (then (global.set $ret (call $realloc (i32.const 0) (i32.const 0) (i32.const 4) (i32.const 12)))))
    (local.set $stream (call $get_stderr))
    (block $done
      (loop $iov
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $ptr (i32.load (local.get $iovs)))
        (local.set $len (i32.load offset=4 (local.get $iovs)))
        ;; blocking-write-and-flush takes at most 4096 bytes a call.
        (block $next
          (loop $chunks
            (br_if $next (i32.eqz (local.get $len)))
            (local.set $chunk
              (select (i32.const 4096) (local.get $len) (i32.gt_u (local.get $len) (i32.const 4096))))
            (call $write (local.get $stream) (local.get $ptr) (local.get $chunk) (global.get $ret))
            (if (i32.load8_u (global.get $ret))
              (then
                (if (i32.eqz (i32.load8_u offset=4 (global.get $ret)))
                  (then (call $drop_error (i32.load offset=8 (global.get $ret)))))
                (local.set $errno (i32.const 29)) ;; EIO
                (br $done)))
            (local.set $total (i32.add (local.get $total) (local.get $chunk)))
            (local.set $ptr (i32.add (local.get $ptr) (local.get $chunk)))
            (local.set $len (i32.sub (local.get $len) (local.get $chunk)))
            (br $chunks)))
        (local.set $iovs (i32.add (local.get $iovs) (i32.const 8)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $iov)))
    (call $drop_stream (local.get $stream))
    (i32.store (local.get $written) (local.get $total))
    (local.get $errno))
)
