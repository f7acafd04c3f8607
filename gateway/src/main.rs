//! `openclaw`: the gateway node and its operator commands. See `openclaw --help`.

fn main() {
    std::process::exit(openclaw_gateway::cli::main());
}
