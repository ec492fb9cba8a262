//! Quoting caller input back in error messages, capped.
//!
//! A refusal names the value it refused so a person can see what was wrong,
//! but a message that repeats a 100 KB value in full overflows the metadata
//! limits of standard gRPC clients (16 KiB in grpcio), which then report
//! their own error instead of ours. Every echoed value goes through `echo`.

use std::fmt::Write;

/// Most characters of one echoed value: enough to recognise any legitimate
/// code, name or date, far below any client's metadata limit.
pub const ECHO_CHARS_MAX: usize = 64;

/// `value` quoted and escaped like `{:?}`, cut after `ECHO_CHARS_MAX`
/// characters with "…" marking the cut.
pub fn echo(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(ECHO_CHARS_MAX).collect();
    let mut quoted = format!("{head:?}");
    if chars.next().is_some() {
        let _ = write!(quoted, "… ({} characters)", value.chars().count());
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(echo("VNP"), "\"VNP\"");
        assert_eq!(echo("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn long_values_are_cut_at_the_cap() {
        let long = "北".repeat(20_000);
        let echoed = echo(&long);
        assert!(echoed.starts_with(&format!("\"{}\"", "北".repeat(ECHO_CHARS_MAX))));
        assert!(echoed.ends_with("… (20000 characters)"));
        assert_eq!(echo(&"x".repeat(ECHO_CHARS_MAX)), format!("\"{}\"", "x".repeat(ECHO_CHARS_MAX)));
    }
}
