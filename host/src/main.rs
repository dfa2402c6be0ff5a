fn main() {
    std::process::exit(sbx::cli::main());
}
