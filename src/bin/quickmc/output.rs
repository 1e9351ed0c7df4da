//! Output for people (aligned tables) and for scripts (`--json`), and what a
//! closed stdout means.
//!
//! Everything goes through [`line`] and [`bytes`] (the `say!` macro), never
//! `println!`: `println!` panics when the reader has gone (`quickmc stats |
//! head -1`), where a command-line tool should stop quietly.

use std::fmt;
use std::io::{self, Write};

/// Any failure of a command; main prints it and exits 2.
pub type Failure = Box<dyn std::error::Error>;

/// stdout was closed by its reader. The reader has what it wanted, so this
/// unwinds to main (dropping a throwaway memcached on the way) and main
/// exits 0 without a word, as `cat` or `grep` would after SIGPIPE.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed")
    }
}

impl std::error::Error for StdoutClosed {}

fn quiet_if_closed(e: io::Error) -> Failure {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Box::new(StdoutClosed)
    } else {
        e.into()
    }
}

/// Writes one line to stdout.
pub fn line(args: fmt::Arguments<'_>) -> Result<(), Failure> {
    writeln!(io::stdout().lock(), "{args}").map_err(quiet_if_closed)
}

/// Writes bytes to stdout as they are.
pub fn bytes(data: &[u8]) -> Result<(), Failure> {
    io::stdout().lock().write_all(data).map_err(quiet_if_closed)
}

/// Flushes stdout, so a closed pipe is noticed here rather than ignored at exit.
pub fn flush() -> Result<(), Failure> {
    io::stdout().lock().flush().map_err(quiet_if_closed)
}

/// Writes one line to stderr. A closed stderr leaves nowhere to say so, so
/// its errors are dropped; the exit status still tells.
pub fn note(args: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{args}");
}

/// `say!("...")`: a line on stdout; returns early with the failure (a
/// closed stdout included) from the calling function.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))?
    };
}

/// `note!("...")`: a line on stderr for people (misses, warnings).
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::output::note(format_args!($($arg)*))
    };
}

/// Prints rows as columns padded to their widest cell; the first row is the header.
pub fn table(rows: &[Vec<String>]) -> Result<(), Failure> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut text = String::new();
        for (c, cell) in row.iter().enumerate() {
            let width = widths.get(c).copied().unwrap_or(0);
            if c + 1 == row.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        say!("{}", text.trim_end());
    }
    Ok(())
}

/// Prints a JSON value on one line: the one document a command prints under `--json`.
pub fn json(value: &serde_json::Value) -> Result<(), Failure> {
    say!("{value}");
    Ok(())
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A ratio as a percentage with one decimal: 0.5 → "50.0%".
pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}
