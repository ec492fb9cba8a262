//! Starting a real seatd process and learning the address it serves on, for
//! the tests that run the binary itself (the README walkthrough, the live board).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};

/// Spawns `command` (a seatd) with its stdout piped, and returns the child
/// and the address it logs in its "serving gRPC on …" line. A thread keeps
/// draining stdout after that line, so seatd never blocks on a full pipe.
pub fn spawn_serving(command: &mut Command) -> (Child, Receiver<String>) {
    let mut process = command.stdout(Stdio::piped()).spawn().expect("seatd starts");
    let stdout = process.stdout.take().expect("stdout piped");
    let (address_tx, address_rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("serving gRPC on ").nth(1) {
                let _ = address_tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
    });
    (process, address_rx)
}
