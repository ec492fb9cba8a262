//! Runs every command block of the README against a real `seatd --demo`, so
//! the walkthrough cannot drift from what the tools do and print.
//!
//! - ```sh blocks: each line must be one this test knows how to stand for.
//!   `cargo run --release --bin seatd -- ARGS` starts the seatd binary (the
//!   test's debug build) with ARGS, on a free port, without metrics, in a
//!   temp directory; `cargo test --workspace --locked` is the command that
//!   runs this very test; the cluster walkthrough's lines (`cargo build`,
//!   `tools/cluster-demo.sh`) are run by `cluster_walkthrough.rs`. Any other
//!   line fails the test: teach it the new one.
//! - ```console blocks: each `$ seatctl …` command (with `\` continuations)
//!   runs the seatctl binary in that temp directory, beside the demo's
//!   tokens, with SEATCTL_SERVER pointing at the test's seatd. It must exit 0
//!   and print the lines under it.
//! - Matching: a line `...` stands for any number of lines, and trailing
//!   spaces are ignored. A date (YYYY-MM-DD) or UUID printed in the README
//!   stands for the real one: the first time it is seen it is bound to the
//!   value printed there, from then on it must print as that value, and it is
//!   replaced by it in later commands (so `seatctl confirm <the README's id>`
//!   confirms the order the `hold` above it really made). The time after
//!   "pay by " is any time, and so is every time with seconds and
//!   milliseconds (`HH:MM:SS.mmm`, the feed's commit instants). Everything
//!   else must match exactly.

mod served;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const README: &str = include_str!("../../README.md");
/// Longest seatd may take to load the demo and serve.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Fewest seatctl commands the README must have: guards against the
/// extraction silently finding none.
const README_COMMANDS_MIN: usize = 8;

#[test]
fn every_readme_command_block_runs_as_printed() {
    let directory = tempfile::tempdir().expect("temp dir");
    let mut seatd: Option<Seatd> = None;
    let mut bindings = Bindings::default();
    let mut commands_run = 0;
    for block in fenced_blocks(README) {
        match block.language.as_str() {
            "sh" => {
                for line in block.lines.iter().filter(|line| !line.trim().is_empty()) {
                    if let Some(started) = stand_in_for(line, directory.path()) {
                        seatd = Some(started);
                    }
                }
            }
            "console" => {
                let seatd = seatd.as_ref().expect("the README starts seatd (a ```sh block) before its first seatctl");
                for step in console_steps(&block.lines) {
                    run_step(&step, seatd, directory.path(), &mut bindings);
                    commands_run += 1;
                }
            }
            _ => {}
        }
    }
    assert!(commands_run >= README_COMMANDS_MIN, "only {commands_run} README commands found");
}

/// One fenced block: its info string and its lines.
struct Block {
    language: String,
    lines: Vec<String>,
}

fn fenced_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for line in markdown.lines() {
        match (&mut open, line.trim_start().strip_prefix("```")) {
            (None, Some(language)) => open = Some(Block { language: language.trim().to_owned(), lines: Vec::new() }),
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some(block), None) => block.lines.push(line.to_owned()),
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "README has an unclosed code block");
    blocks
}

/// What a ```sh line stands for here: the seatd it starts, or nothing for
/// the test command itself.
fn stand_in_for(line: &str, directory: &Path) -> Option<Seatd> {
    let words = shell_words(line);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["cargo", "run", "--release", "--bin", "seatd", "--", args @ ..] => Some(Seatd::start(args, directory)),
        ["cargo", "test", "--workspace", "--locked"] => None,
        // The cluster walkthrough: api/tests/cluster_walkthrough.rs runs it as written.
        ["cargo", "build", "--release", "--bin", "seatd", "--bin", "seatctl"] => None,
        ["tools/cluster-demo.sh", ..] => None,
        _ => panic!("README ```sh line {line:?} is not one this test can run; add it to stand_in_for"),
    }
}

/// A `$ ` command and the output printed under it.
struct Step {
    command: String,
    expected: Vec<String>,
}

fn console_steps(lines: &[String]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut continued = false;
    for line in lines {
        if continued {
            let step = steps.last_mut().expect("a continuation follows a command");
            step.command = format!("{} {}", step.command.trim_end_matches('\\').trim_end(), line.trim());
        } else if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step { command: command.to_owned(), expected: Vec::new() });
        } else {
            let step = steps.last_mut().unwrap_or_else(|| panic!("README console output {line:?} before any command"));
            step.expected.push(line.clone());
        }
        continued = line.ends_with('\\') && (continued || line.starts_with("$ "));
    }
    steps
}

fn run_step(step: &Step, seatd: &Seatd, directory: &Path, bindings: &mut Bindings) {
    let command = bindings.substitute(&step.command);
    let words = shell_words(&command);
    assert_eq!(words.first().map(String::as_str), Some("seatctl"), "README console commands run seatctl: {command}");
    let output = Command::new(env!("CARGO_BIN_EXE_seatctl"))
        .args(&words[1..])
        .current_dir(directory)
        .env("SEATCTL_SERVER", format!("http://{}", seatd.address))
        .env_remove("SEATCTL_TOKEN")
        .env_remove("SEATCTL_TOKENS_FILE")
        .env_remove("SEATCTL_CA_FILE")
        .output()
        .expect("seatctl runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "`{command}` failed ({}):\n{stdout}{stderr}", output.status);
    let actual: Vec<&str> = stdout.lines().collect();
    let expected: Vec<&str> = step.expected.iter().map(String::as_str).collect();
    match lines_match(&expected, &actual, bindings.clone()) {
        Some(bound) => *bindings = bound,
        None => panic!("`{command}` printed\n{stdout}\nbut the README shows\n{}", step.expected.join("\n")),
    }
}

/// Whether `actual` matches `expected`, `...` lines standing for any number
/// of lines; the bindings this needed.
fn lines_match(expected: &[&str], actual: &[&str], bindings: Bindings) -> Option<Bindings> {
    match expected.split_first() {
        None => actual.is_empty().then_some(bindings),
        Some((&"...", rest)) => {
            (0..=actual.len()).find_map(|skip| lines_match(rest, &actual[skip..], bindings.clone()))
        }
        Some((line, rest)) => {
            let (first, others) = actual.split_first()?;
            let mut bindings = bindings;
            line_matches(line, first, &mut bindings).then(|| lines_match(rest, others, bindings))?
        }
    }
}

/// README values (dates, UUIDs) → the values this run printed in their place.
#[derive(Clone, Default)]
struct Bindings(HashMap<String, String>);

impl Bindings {
    /// Binds `readme` to `actual`, or checks an earlier binding; one README
    /// value stands for one real value and the other way round.
    fn bind(&mut self, readme: &str, actual: &str) -> bool {
        match self.0.get(readme) {
            Some(bound) => bound == actual,
            None if self.0.values().any(|bound| bound == actual) => false,
            None => {
                self.0.insert(readme.to_owned(), actual.to_owned());
                true
            }
        }
    }

    fn substitute(&self, command: &str) -> String {
        self.0.iter().fold(command.to_owned(), |command, (readme, actual)| command.replace(readme, actual))
    }
}

/// A variable token of fixed width in printed output.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variable {
    Date,
    Uuid,
    /// An HH:MM deadline: any time, not bound.
    Time,
    /// An HH:MM:SS.mmm instant: any time, not bound.
    Instant,
}

impl Variable {
    fn width(self) -> usize {
        match self {
            Variable::Date => 10,
            Variable::Uuid => 36,
            Variable::Time => 5,
            Variable::Instant => 12,
        }
    }

    /// Whether `text` starts with this variable's shape.
    fn starts(self, text: &[char]) -> bool {
        let pattern: &[u8] = match self {
            Variable::Date => b"dddd-dd-dd",
            Variable::Uuid => b"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
            Variable::Time => b"dd:dd",
            Variable::Instant => b"dd:dd:dd.ddd",
        };
        text.len() >= pattern.len()
            && pattern.iter().zip(text).all(|(shape, c)| match shape {
                b'd' => c.is_ascii_digit(),
                b'x' => c.is_ascii_hexdigit(),
                literal => *c == char::from(*literal),
            })
    }
}

/// Compares one line; variables sit at the same columns in both, as every
/// one has a fixed width.
fn line_matches(expected: &str, actual: &str, bindings: &mut Bindings) -> bool {
    let expected: Vec<char> = expected.trim_end().chars().collect();
    let actual: Vec<char> = actual.trim_end().chars().collect();
    if expected.len() != actual.len() {
        return false;
    }
    let mut at = 0;
    while at < expected.len() {
        let after_pay_by = expected[..at].iter().collect::<String>().ends_with("pay by ");
        let variable = [Variable::Uuid, Variable::Date, Variable::Instant]
            .into_iter()
            .chain(after_pay_by.then_some(Variable::Time))
            .find(|variable| variable.starts(&expected[at..]));
        let Some(variable) = variable else {
            if expected[at] != actual[at] {
                return false;
            }
            at += 1;
            continue;
        };
        let end = at + variable.width();
        if !variable.starts(&actual[at..]) {
            return false;
        }
        let readme: String = expected[at..end].iter().collect();
        let printed: String = actual[at..end].iter().collect();
        let bound = matches!(variable, Variable::Date | Variable::Uuid);
        if bound && !bindings.bind(&readme, &printed) {
            return false;
        }
        at = end;
    }
    true
}

/// Splits a command line as a POSIX shell would for the quoting the README
/// uses: words separated by spaces, '…' and "…" grouping.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "unterminated quote in README command {line:?}");
    words.extend(word);
    words
}

/// The seatd the README's `cargo run … seatd -- --demo` stands for; killed when dropped.
struct Seatd {
    process: Child,
    address: String,
}

impl Seatd {
    fn start(args: &[&str], directory: &Path) -> Seatd {
        let (mut process, address_rx) = served::spawn_serving(
            Command::new(env!("CARGO_BIN_EXE_seatd"))
                .args(args)
                // A free port, and no metrics port shared with other tests.
                .args(["--listen", "127.0.0.1:0", "--metrics-listen", "off"])
                .current_dir(directory)
                .env("NO_COLOR", "1")
                .env("RUST_LOG", "info"),
        );
        let started = Instant::now();
        let address = address_rx.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
            let _ = process.kill();
            panic!("seatd did not serve within {:?} of {started:?}", START_TIMEOUT)
        });
        Seatd { process, address }
    }
}

impl Drop for Seatd {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[test]
fn matching_binds_readme_values_and_skips_ellipses() {
    let mut bindings = Bindings::default();
    assert!(line_matches("G1 2026-11-25 x", "G1 2027-01-02 x", &mut bindings));
    assert!(!line_matches("G1 2026-11-25 x", "G1 2027-01-03 x", &mut bindings), "one README date, one real date");
    assert!(!line_matches("pay by 13:52", "pay by 1x:00", &mut bindings));
    assert!(line_matches("pay by 13:52 (UTC+8)", "pay by 09:10 (UTC+8)", &mut bindings));
    assert!(!line_matches("dep 07:00", "dep 07:05", &mut bindings), "other times are literal");
    let expected = ["a", "...", "z"];
    assert!(lines_match(&expected, &["a", "b", "c", "z"], bindings.clone()).is_some());
    assert!(lines_match(&expected, &["a", "z"], bindings.clone()).is_some());
    assert!(lines_match(&expected, &["a", "b"], bindings.clone()).is_none());
    assert_eq!(bindings.substitute("seatmap --date 2026-11-25"), "seatmap --date 2027-01-02");
}

#[test]
fn commands_split_like_a_shell() {
    assert_eq!(
        shell_words(r#"seatctl hold G1 --passenger "张三,1,second,A1" 'x y'"#),
        ["seatctl", "hold", "G1", "--passenger", "张三,1,second,A1", "x y"]
    );
    let steps = console_steps(&["$ seatctl a \\".into(), "    --b c".into(), "out".into(), "$ seatctl d".into()]);
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].command, "seatctl a --b c");
    assert_eq!(steps[0].expected, ["out"]);
}
