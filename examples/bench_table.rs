//! Prints the benchmark suite's results (target/criterion) as a table of
//! ratios against the raw-socket baseline (the `tls` rows: quickmc over
//! TLS against quickmc in plain, on one server; the `modes` rows: the
//! pipelined client against the raw socket, the async client against a raw
//! tokio socket loop). Run by `scripts/bench.sh`.
//!
//! Run: `cargo run --release --example bench_table [-- --markdown]`

use std::collections::BTreeMap;
use std::path::Path;

/// Median time in nanoseconds of one benchmark (criterion's estimates.json).
fn median(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.1} µs", ns / 1e3)
    }
}

/// The bar each comparison is held to, from the issues.
fn target(group: &str, case: &str) -> &'static str {
    match (group, case) {
        ("single", _) => "≤ 1.10x",
        ("get_multi" | "set_multi", _) => "≤ 1.15x",
        ("threads", _) => "≤ 1.20x",
        ("fanout", "1000keys_4servers vs 1server") => "≤ 1.30x",
        ("tls", "get") => "≤ 1.50x",
        ("tls", _) => "≤ 1.25x",
        ("modes", _) => "≤ 1.15x",
        _ => "",
    }
}

fn main() {
    let markdown = std::env::args().any(|a| a == "--markdown");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion");
    // quickmc over raw, measured call by call in alternation (see `paired`
    // in benches/quickmc.rs): the figure the targets are held to.
    let paired: BTreeMap<String, f64> = std::fs::read_to_string(root.join("paired.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    // group -> case -> implementation -> ns
    let mut results: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>> = BTreeMap::new();
    let Ok(groups) = std::fs::read_dir(&root) else {
        eprintln!(
            "no results under {}: run `cargo bench --bench quickmc` first",
            root.display()
        );
        std::process::exit(1);
    };
    for group in groups.flatten() {
        let Ok(cases) = std::fs::read_dir(group.path()) else {
            continue;
        };
        for case in cases.flatten() {
            let Ok(impls) = std::fs::read_dir(case.path()) else {
                continue;
            };
            for imp in impls.flatten() {
                if let Some(ns) = median(&imp.path().join("new/estimates.json")) {
                    results
                        .entry(group.file_name().to_string_lossy().into_owned())
                        .or_default()
                        .entry(case.file_name().to_string_lossy().into_owned())
                        .or_default()
                        .insert(imp.file_name().to_string_lossy().into_owned(), ns);
                }
            }
        }
    }
    let mut rows: Vec<[String; 8]> = vec![[
        "benchmark".into(),
        "raw".into(),
        "quickmc".into(),
        "memcache crate".into(),
        "quickmc / raw (paired)".into(),
        "quickmc / raw".into(),
        "memcache / raw".into(),
        "target".into(),
    ]];
    for (group, cases) in &results {
        // The TLS group compares quickmc over TLS with quickmc in plain.
        let (base, mine) = match group.as_str() {
            "tls" => ("plain", "tls"),
            _ => ("raw", "quickmc"),
        };
        for (case, imps) in cases {
            // The async client's floor is a raw tokio socket loop.
            let base = if imps.contains_key("raw_tokio") {
                "raw_tokio"
            } else {
                base
            };
            if !imps.contains_key(base) && group != "threads" {
                continue;
            }
            let raw = imps.get(base).copied();
            let ratio = |name: &str| match (imps.get(name), raw) {
                (Some(t), Some(r)) => format!("{:.2}x", t / r),
                _ => "-".into(),
            };
            let time = |name: &str| {
                imps.get(name)
                    .map(|t| human(*t))
                    .unwrap_or_else(|| "-".into())
            };
            let pair = paired
                .get(&format!("{group}/{case}"))
                .map(|r| format!("{r:.2}x"))
                .unwrap_or_else(|| "-".into());
            rows.push([
                format!("{group}/{case}"),
                time(base),
                time(mine),
                time("memcache"),
                pair,
                ratio(mine),
                ratio("memcache"),
                target(group, case).into(),
            ]);
        }
    }
    if let Some(fanout) = results.get("fanout") {
        let q = |case: &str| fanout.get(case).and_then(|m| m.get("quickmc")).copied();
        if let (Some(four), Some(one)) = (q("1000keys_4servers"), q("1000keys_1server")) {
            rows.push([
                "fanout/quickmc 4 servers vs 1 server".into(),
                human(one),
                human(four),
                "-".into(),
                paired
                    .get("fanout/4servers_vs_1server")
                    .map(|r| format!("{r:.2}x"))
                    .unwrap_or_else(|| "-".into()),
                format!("{:.2}x", four / one),
                "-".into(),
                target("fanout", "1000keys_4servers vs 1server").into(),
            ]);
        }
    }
    if markdown {
        for (i, row) in rows.iter().enumerate() {
            println!("| {} |", row.join(" | "));
            if i == 0 {
                println!("|{}", "---|".repeat(row.len()));
            }
        }
        return;
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}
