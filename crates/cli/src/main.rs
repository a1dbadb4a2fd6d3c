//! `kalypso`: parse the command line, set up logging, run.

fn main() -> std::process::ExitCode {
    kalypso_cli::main()
}
