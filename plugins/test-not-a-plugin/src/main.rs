//! test-not-a-plugin: a plain WASI program. Built for wasm32-wasip2 it is a component of the
//! wasi:cli/command world, not an sbx plugin; sbx must refuse to load it with a clear message.

fn main() {
    println!("this is a program, not an sbx plugin");
}
