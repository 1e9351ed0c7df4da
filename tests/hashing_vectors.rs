//! Ground truth from the real libmemcached 1.1.4 (see
//! `tests/data/libmemcached.README.md`): every `hash` line and every `dist`
//! line of `tests/data/libmemcached.tsv` must be reproduced exactly.

use std::collections::HashMap;

use quickmc::distribution::{Distribution, DistributionKind, HashAlgorithm, ServerPoint};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/libmemcached.tsv"
));

fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("odd-length hex {hex:?}"));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("bad hex {hex:?}"))
        })
        .collect()
}

struct HashLine {
    line_no: usize,
    algorithm: String,
    key: Vec<u8>,
    expected: u32,
}

struct DistLine {
    line_no: usize,
    scenario: String,
    key: Vec<u8>,
    expected: usize,
}

struct Scenario {
    kind: DistributionKind,
    hash: HashAlgorithm,
    servers: Vec<ServerPoint>,
}

#[derive(Default)]
struct Vectors {
    hashes: Vec<HashLine>,
    dists: Vec<DistLine>,
    scenarios: HashMap<String, Scenario>,
}

/// `# scenario NAME dist=D weighted=W hash=H servers=HOST:PORT:WEIGHT,...`
fn parse_scenario(rest: &str) -> Result<(String, Scenario), String> {
    let mut words = rest.split_whitespace();
    let name = words.next().ok_or("scenario without a name")?.to_string();
    let fields: HashMap<&str, &str> = words.filter_map(|w| w.split_once('=')).collect();
    let field = |k: &str| {
        fields
            .get(k)
            .copied()
            .ok_or_else(|| format!("scenario {name}: missing {k}="))
    };
    let kind = match (field("dist")?, field("weighted")?) {
        ("0", _) => DistributionKind::Modula,
        ("2", "0") => DistributionKind::Ketama,
        ("2", "1") => DistributionKind::KetamaWeighted,
        (d, w) => {
            return Err(format!(
                "scenario {name}: unsupported dist={d} weighted={w}"
            ));
        }
    };
    let hash: HashAlgorithm = field("hash")?.parse().map_err(|e| format!("{e}"))?;
    let servers = field("servers")?
        .split(',')
        .map(|spec| {
            let mut parts = spec.rsplitn(3, ':');
            let weight = parts.next().and_then(|w| w.parse().ok());
            let port = parts.next().and_then(|p| p.parse().ok());
            let host = parts.next();
            match (host, port, weight) {
                (Some(host), Some(port), Some(weight)) => Ok(ServerPoint::new(host, port, weight)),
                _ => Err(format!("scenario {name}: bad server {spec:?}")),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((
        name,
        Scenario {
            kind,
            hash,
            servers,
        },
    ))
}

fn parse_vectors() -> Result<Vectors, String> {
    let mut v = Vectors::default();
    for (idx, line) in VECTORS.lines().enumerate() {
        let line_no = idx + 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(rest) = comment.trim_start().strip_prefix("scenario ") {
                let (name, scenario) =
                    parse_scenario(rest).map_err(|e| format!("line {line_no}: {e}"))?;
                v.scenarios.insert(name, scenario);
            }
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        match cols.as_slice() {
            ["hash", algorithm, key_hex, value] => v.hashes.push(HashLine {
                line_no,
                algorithm: algorithm.to_string(),
                key: decode_hex(key_hex).map_err(|e| format!("line {line_no}: {e}"))?,
                expected: value
                    .parse()
                    .map_err(|e| format!("line {line_no}: value: {e}"))?,
            }),
            ["dist", scenario, key_hex, index] => v.dists.push(DistLine {
                line_no,
                scenario: scenario.to_string(),
                key: decode_hex(key_hex).map_err(|e| format!("line {line_no}: {e}"))?,
                expected: index
                    .parse()
                    .map_err(|e| format!("line {line_no}: index: {e}"))?,
            }),
            _ => return Err(format!("line {line_no}: unrecognised line {line:?}")),
        }
    }
    Ok(v)
}

fn report(what: &str, checked: usize, mismatches: &[String]) {
    println!(
        "{what}: checked {checked} lines, {} mismatches",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{what}: {} of {checked} lines differ from libmemcached:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_hash_line_matches_libhashkit() {
    let v = match parse_vectors() {
        Ok(v) => v,
        Err(e) => panic!("cannot parse vectors: {e}"),
    };
    assert_eq!(v.hashes.len(), 2000, "expected 2000 hash lines");

    let mut mismatches = Vec::new();
    let mut per_algorithm: HashMap<HashAlgorithm, usize> = HashMap::new();
    for line in &v.hashes {
        let algo: HashAlgorithm = match line.algorithm.parse() {
            Ok(a) => a,
            Err(e) => {
                mismatches.push(format!("line {}: {e}", line.line_no));
                continue;
            }
        };
        *per_algorithm.entry(algo).or_default() += 1;
        let got = algo.hash(&line.key);
        if got != line.expected {
            mismatches.push(format!(
                "line {}: {} key={:02x?} expected {} got {}",
                line.line_no, algo, line.key, line.expected, got
            ));
        }
    }
    for algo in HashAlgorithm::ALL {
        assert!(
            per_algorithm.get(&algo).is_some_and(|&n| n > 0),
            "no vectors for {algo}"
        );
    }
    report("hash", v.hashes.len(), &mismatches);
}

#[test]
fn every_dist_line_matches_libmemcached_server_choice() {
    let v = match parse_vectors() {
        Ok(v) => v,
        Err(e) => panic!("cannot parse vectors: {e}"),
    };
    assert_eq!(v.scenarios.len(), 6, "expected 6 scenarios");
    assert_eq!(v.dists.len(), 1200, "expected 1200 dist lines");

    let built: HashMap<&str, Distribution> = v
        .scenarios
        .iter()
        .map(|(name, s)| {
            let live = vec![true; s.servers.len()];
            (
                name.as_str(),
                Distribution::new(s.kind, s.hash, &s.servers, &live),
            )
        })
        .collect();

    let mut mismatches = Vec::new();
    let mut per_scenario: HashMap<&str, usize> = HashMap::new();
    for line in &v.dists {
        let Some(dist) = built.get(line.scenario.as_str()) else {
            mismatches.push(format!(
                "line {}: unknown scenario {}",
                line.line_no, line.scenario
            ));
            continue;
        };
        *per_scenario.entry(line.scenario.as_str()).or_default() += 1;
        let got = dist.server_for(&line.key);
        if got != Some(line.expected) {
            mismatches.push(format!(
                "line {}: {} key={:02x?} expected server {} got {:?}",
                line.line_no, line.scenario, line.key, line.expected, got
            ));
        }
    }
    for name in v.scenarios.keys() {
        assert!(
            per_scenario.get(name.as_str()).is_some_and(|&n| n > 0),
            "scenario {name} has no dist lines"
        );
    }
    report("dist", v.dists.len(), &mismatches);
}
